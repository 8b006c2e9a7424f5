"""Strict readers and writers for what channels put on the wire.

Shared by every channel package: body size limits, case-insensitive header lookup with
duplicate detection, strict JSON (duplicate keys, NaN and non-UTF-8 rejected),
`application/x-www-form-urlencoded` with a declared charset (docs/channel-formats.md §3.1, §5.1,
§6.1),
sorted `k=v&k=v` signing strings, and `k="v",k="v"` authorization parameters (§1, §6.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, TypeVar
from urllib.parse import quote_plus, unquote_to_bytes

from pydantic import BaseModel, ValidationError

from payment_gateway.errors import (
    BadCharset,
    BodyTooLarge,
    DuplicateField,
    Malformed,
    MissingField,
    StaleTimestamp,
)

BODY_SIZE_MAX_BYTES_DEFAULT: Final = 64 * 1024
FORM_FIELD_COUNT_MAX: Final = 256
JSON_DEPTH_MAX: Final = 32
HEADER_VALUE_LEN_MAX: Final = 8 * 1024

Charset = Literal["utf-8", "gbk"]
_CHARSET_ALIASES: Final[Mapping[str, Charset]] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gbk",
    "gb2312": "gbk",  # GB2312 is a subset of GBK
}
_FORM_KEY_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}", re.ASCII)
_PERCENT_RE: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_AUTH_PARAM_RE: Final = re.compile(r'\s*([A-Za-z_]{1,32})="([^"\\]*)"\s*', re.ASCII)

FormPairs = list[tuple[str, str]]
ModelT = TypeVar("ModelT", bound=BaseModel)


# ---------------------------------------------------------------- bodies and headers


def check_body_size(raw_body: bytes, max_body_bytes: int) -> None:
    """Reject an empty body (Malformed) and one above `max_body_bytes` (BodyTooLarge)."""
    if not isinstance(raw_body, bytes | bytearray):
        raise Malformed("body must be bytes")
    if len(raw_body) > max_body_bytes:
        raise BodyTooLarge(f"body of {len(raw_body)} bytes exceeds {max_body_bytes}")
    if not raw_body.strip():
        raise Malformed("empty body")


class HeaderView:
    """Case-insensitive, duplicate-rejecting view of request or response headers.

    Built from any mapping or sequence of pairs (a starlette `Headers` yields repeated headers
    from `.items()`, which this view rejects).
    """

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        self._values: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            if key in self._values:
                raise DuplicateField(name, where="header")
            self._values[key] = value

    def get(self, name: str) -> str | None:
        """The header value, or None when absent."""
        return self._values.get(name.lower())

    def require(self, name: str) -> str:
        """The header value; MissingField when absent or blank, Malformed when too long."""
        value = self.get(name)
        if value is None or not value.strip():
            raise MissingField(name, where="header")
        if len(value) > HEADER_VALUE_LEN_MAX:
            raise Malformed(f"header {name!r} is too long")
        return value


def require_token(value: str, name: str, *, max_len: int) -> str:
    """A header or parameter value that must be printable ASCII without spaces or quotes."""
    if not (0 < len(value) <= max_len) or not value.isascii() or not value.isprintable():
        raise Malformed(f"{name!r} is not a printable ASCII token of at most {max_len} chars")
    if any(char in value for char in ' "\\,'):
        raise Malformed(f"{name!r} contains a forbidden character")
    return value


def parse_unix_seconds(text: str, name: str) -> int:
    """A Unix timestamp in decimal seconds (at most 12 digits, no sign)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise Malformed(f"{name!r} is not a decimal Unix timestamp")
    return int(text)


def check_timestamp_window(timestamp_s: int, now_s: int, clock_skew_max_s: int) -> None:
    """StaleTimestamp when the signed timestamp is more than the skew away, past or future."""
    if abs(now_s - timestamp_s) > clock_skew_max_s:
        raise StaleTimestamp(f"signed timestamp is more than {clock_skew_max_s} s from our clock")


# ---------------------------------------------------------------- JSON


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateField(key, where="JSON key")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise Malformed(f"JSON constant {name} is not allowed")


def parse_json_object(raw: bytes, what: str) -> dict[str, object]:
    """Parse strict UTF-8 JSON whose top level is an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not UTF-8") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except RecursionError:
        raise Malformed(f"{what} is nested too deeply") from None
    except ValueError:
        raise Malformed(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a JSON object")
    return value


def dump_json_compact(value: object) -> bytes:
    """Compact UTF-8 JSON as channels send it (no spaces, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def validate_model(model: type[ModelT], data: Mapping[str, object], what: str) -> ModelT:
    """Validate `data` into `model`; MissingField / Malformed name the field, never the value."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or what
        if first["type"] == "missing":
            raise MissingField(location) from None
        raise Malformed(f"{what} field {location!r} is invalid ({first['type']})") from None


# ---------------------------------------------------------------- forms


def normalize_charset(label: str) -> Charset:
    """Map a declared charset label to `utf-8` or `gbk`; BadCharset for anything else."""
    charset = _CHARSET_ALIASES.get(label.strip().strip('"').lower())
    if charset is None:
        raise BadCharset("declared charset is not utf-8 or gbk")
    return charset


def content_type_charset(content_type: str | None) -> Charset | None:
    """The `charset=` parameter of a Content-Type header, normalised, or None."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return normalize_charset(value)
    return None


def split_form(raw_body: bytes) -> list[tuple[str, bytes]]:
    """Split a form body into (ASCII key, percent-decoded value bytes), rejecting duplicates."""
    if b"&&" in raw_body or raw_body.startswith(b"&") or raw_body.endswith(b"&"):
        raise Malformed("form has an empty field")
    segments = raw_body.split(b"&")
    if len(segments) > FORM_FIELD_COUNT_MAX:
        raise Malformed(f"form has more than {FORM_FIELD_COUNT_MAX} fields")
    pairs: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for segment in segments:
        key, value = _split_segment(segment)
        if key in seen:
            raise DuplicateField(key, where="form field")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def _split_segment(segment: bytes) -> tuple[str, bytes]:
    raw_key, sep, raw_value = segment.partition(b"=")
    if not sep:
        raise Malformed("form field without '='")
    if _PERCENT_RE.search(segment):
        raise Malformed("form field has a bad percent escape")
    key_bytes = unquote_to_bytes(raw_key.replace(b"+", b" "))
    key = key_bytes.decode("ascii", errors="replace")
    if not _FORM_KEY_RE.fullmatch(key):
        raise Malformed("form field name is not a plain ASCII identifier")
    return key, unquote_to_bytes(raw_value.replace(b"+", b" "))


def decode_form_values(pairs: Sequence[tuple[str, bytes]], charset: Charset) -> FormPairs:
    """Decode percent-decoded values with the declared charset; BadCharset when they do not."""
    try:
        return [(key, value.decode(charset)) for key, value in pairs]
    except UnicodeDecodeError:
        raise BadCharset("form values do not decode with the declared charset") from None


def encode_form(pairs: Iterable[tuple[str, str]], charset: Charset) -> bytes:
    """Encode pairs as `application/x-www-form-urlencoded` in `charset` (space as `+`)."""
    encoded = (
        f"{quote_plus(key, encoding=charset)}={quote_plus(value, encoding=charset)}"
        for key, value in pairs
    )
    return "&".join(encoded).encode("ascii")


def join_sorted(pairs: Iterable[tuple[str, str]]) -> str:
    """Sort by key (stable for equal keys) and join as `k=v&k=v` without quoting."""
    return "&".join(f"{key}={value}" for key, value in sorted(pairs, key=lambda kv: kv[0]))


def form_field(fields: Mapping[str, str], name: str) -> str:
    """A required, non-empty form field."""
    value = fields.get(name)
    if not value:
        raise MissingField(name)
    return value


# ---------------------------------------------------------------- authorization parameters


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse `k="v",k="v"` (the part after the scheme) into a dict; duplicates rejected."""
    params: dict[str, str] = {}
    for part in text.split(","):
        match = _AUTH_PARAM_RE.fullmatch(part)
        if match is None:
            raise Malformed('authorization parameter is not of the form k="v"')
        name, value = match.group(1), match.group(2)
        if name in params:
            raise DuplicateField(name, where="authorization parameter")
        params[name] = value
    return params


def format_auth_params(params: Iterable[tuple[str, str]]) -> str:
    """Format `k="v",k="v"` in the given order."""
    return ",".join(f'{name}="{value}"' for name, value in params)


def split_scheme(authorization: str, scheme: str) -> str:
    """The part of an Authorization value after `scheme` and a space; Malformed otherwise."""
    head, sep, rest = authorization.strip().partition(" ")
    if not sep or head != scheme:
        raise Malformed("authorization scheme is not the channel's")
    return rest
