"""Neutral primitives of the payment channels' wire formats, shared by both sides.

Both the gateway (merchant side) and the channel sandbox (channel side) speak the formats in
docs/channel-formats.md. What they legitimately share is only what the formats have in common
and what carries no channel rule of its own:

* RSA PKCS#1 v1.5 signatures in standard Base64 (`rsa_sign_b64`, `rsa_verify_b64`),
  SHA256withRSA or SHA1withRSA;
* the canonical `k=v&k=v` string of sorted parameters (`canonical_query`), raw, unquoted;
* `application/x-www-form-urlencoded` bodies in a declared charset (`encode_form`,
  `decode_form`), duplicates rejected;
* compact UTF-8 JSON as channels send it and strict JSON objects (`dump_json_compact`,
  `parse_json_object`);
* `k="v",k="v"` authorization parameters (`format_auth_params`, `parse_auth_params`);
* random alphanumeric nonces and the channels' clock (UTC+8, `channel_time`).

Which fields a channel signs, in which order, with which hash and in which charset is NOT
here: each side builds its own signed strings from the published format, so a wrong field
order or encoding on one side fails against the other side and against the golden vectors.

Errors are `WireFormatError` (a ValueError); messages name the rule, never the value.
Amounts at the edge (yuan text ↔ fen) are in `otd_shared.money`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal
from urllib.parse import quote_plus, unquote_to_bytes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HashName = Literal["sha256", "sha1"]
Charset = Literal["utf-8", "gbk"]

CHANNEL_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
SIGNATURE_B64_LEN_MAX: Final = 1024  # a 4096-bit signature is 684 Base64 characters
FORM_FIELD_COUNT_MAX: Final = 256
NONCE_LEN_DEFAULT: Final = 32
_NONCE_ALPHABET: Final = string.ascii_letters + string.digits
_CHARSETS: Final[dict[str, Charset]] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gbk",
    "gb2312": "gbk",  # GB2312 is a subset of GBK
}
_FORM_KEY_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}", re.ASCII)
_BAD_PERCENT_RE: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_AUTH_PARAM_RE: Final = re.compile(r'\s*([A-Za-z_]{1,32})="([^"\\]*)"\s*', re.ASCII)


class WireFormatError(ValueError):
    """Bytes or text that do not follow the wire rule they were read with."""


# ---------------------------------------------------------------- RSA


def _hash(name: HashName) -> hashes.HashAlgorithm:
    return hashes.SHA256() if name == "sha256" else hashes.SHA1()  # noqa: S303 - channel protocol


def rsa_sign_b64(
    private_key: rsa.RSAPrivateKey, message: bytes, hash_name: HashName = "sha256"
) -> str:
    """PKCS#1 v1.5 signature of `message` in standard Base64 without line breaks."""
    signature = private_key.sign(message, padding.PKCS1v15(), _hash(hash_name))
    return base64.b64encode(signature).decode("ascii")


def rsa_verify_b64(
    public_key: rsa.RSAPublicKey,
    signature_b64: str,
    message: bytes,
    hash_name: HashName = "sha256",
) -> bool:
    """True when `signature_b64` is strict Base64 of a valid signature over `message`.

    Anything else (empty, too long, not Base64, wrong length for the key, not matching) is
    False: callers turn that into their own rejection.
    """
    if not signature_b64 or len(signature_b64) > SIGNATURE_B64_LEN_MAX:
        return False
    if not signature_b64.isascii():
        return False
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != (public_key.key_size + 7) // 8:
        return False
    try:
        public_key.verify(raw, message, padding.PKCS1v15(), _hash(hash_name))
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------- canonical strings and forms


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sort by key (stable for equal keys) and join as `k=v&k=v`, values raw (no quoting).

    Callers choose which pairs go in (e.g. without `sign`, without empty values).
    """
    return "&".join(f"{key}={value}" for key, value in sorted(pairs, key=lambda kv: kv[0]))


def normalize_charset(label: str) -> Charset:
    """`utf-8` or `gbk` for a declared charset label (case-insensitive, aliases accepted)."""
    charset = _CHARSETS.get(label.strip().strip('"').lower())
    if charset is None:
        raise WireFormatError("declared charset is not utf-8 or gbk")
    return charset


def encode_form(pairs: Iterable[tuple[str, str]], charset: Charset = "utf-8") -> bytes:
    """`application/x-www-form-urlencoded` in `charset`, in the given order (space as `+`)."""
    encoded = (
        f"{quote_plus(key, encoding=charset)}={quote_plus(value, encoding=charset)}"
        for key, value in pairs
    )
    return "&".join(encoded).encode("ascii")


def decode_form(raw: bytes, charset: Charset = "utf-8") -> list[tuple[str, str]]:
    """Split a form body into (key, value) pairs decoded with `charset`, in body order.

    Rejects empty segments, segments without `=`, bad percent escapes, keys that are not plain
    ASCII identifiers, duplicate keys, more than FORM_FIELD_COUNT_MAX fields and values that do
    not decode with `charset`.
    """
    if not raw or b"&&" in raw or raw.startswith(b"&") or raw.endswith(b"&"):
        raise WireFormatError("form has an empty field")
    segments = raw.split(b"&")
    if len(segments) > FORM_FIELD_COUNT_MAX:
        raise WireFormatError(f"form has more than {FORM_FIELD_COUNT_MAX} fields")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for segment in segments:
        key, value = _decode_segment(segment, charset)
        if key in seen:
            raise WireFormatError(f"form field {key!r} occurs more than once")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def _decode_segment(segment: bytes, charset: Charset) -> tuple[str, str]:
    raw_key, sep, raw_value = segment.partition(b"=")
    if not sep:
        raise WireFormatError("form field without '='")
    if _BAD_PERCENT_RE.search(segment):
        raise WireFormatError("form field has a bad percent escape")
    key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode("ascii", errors="replace")
    if not _FORM_KEY_RE.fullmatch(key):
        raise WireFormatError("form field name is not a plain ASCII identifier")
    try:
        value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode(charset)
    except UnicodeDecodeError:
        raise WireFormatError(f"form field {key!r} does not decode as {charset}") from None
    return key, value


# ---------------------------------------------------------------- JSON


def dump_json_compact(value: object) -> bytes:
    """Compact UTF-8 JSON as channels send it (no spaces, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise WireFormatError(f"JSON key {key!r} occurs more than once")
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    raise WireFormatError(f"JSON constant {name} is not allowed")


def parse_json_object(raw: bytes, what: str = "body") -> dict[str, object]:
    """Strict UTF-8 JSON object: duplicate keys, NaN/Infinity and other top levels rejected."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireFormatError(f"{what} is not UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise WireFormatError(f"{what} is nested too deeply") from None
    except WireFormatError:
        raise
    except ValueError:
        raise WireFormatError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise WireFormatError(f"{what} must be a JSON object")
    return value


# ---------------------------------------------------------------- authorization parameters


def format_auth_params(params: Iterable[tuple[str, str]]) -> str:
    """`k="v",k="v"` in the given order."""
    return ",".join(f'{name}="{value}"' for name, value in params)


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse `k="v",k="v"` (the part after the scheme); duplicates and junk rejected."""
    params: dict[str, str] = {}
    for part in text.split(","):
        match = _AUTH_PARAM_RE.fullmatch(part)
        if match is None:
            raise WireFormatError('authorization parameter is not of the form k="v"')
        name, value = match.group(1), match.group(2)
        if name in params:
            raise WireFormatError(f"authorization parameter {name!r} occurs more than once")
        params[name] = value
    return params


def split_scheme(authorization: str, scheme: str) -> str:
    """The part of an Authorization value after `scheme` and one space."""
    head, sep, rest = authorization.strip().partition(" ")
    if not sep or head != scheme:
        raise WireFormatError("authorization scheme is not the expected one")
    return rest


# ---------------------------------------------------------------- nonces and clock


def new_nonce(length: int = NONCE_LEN_DEFAULT) -> str:
    """A random alphanumeric nonce (WeChat and Lakala use 32 characters)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def channel_time(now_s: int) -> datetime:
    """Unix seconds as an aware datetime in the channels' zone (UTC+8)."""
    return datetime.fromtimestamp(now_s, tz=UTC).astimezone(CHANNEL_TZ)
