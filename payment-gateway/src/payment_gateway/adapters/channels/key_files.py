"""Channel key sets: the key layout of docs/channel-formats.md "Keys", loaded and generated.

This module works on one channel's `KeySpec` (declared in its package's ``spec.py``); the
registry-level helpers (every channel, by code) are in `keys`.

Layout, one directory per channel under `var/keys/`::

    var/keys/<channel>/channel_private.pem   channel side (sandbox signs notifications)  0600
    var/keys/<channel>/channel_public.pem    channel side (gateway verifies notifications)
    var/keys/<channel>/merchant_private.pem  our side (gateway signs requests)            0600
    var/keys/<channel>/merchant_public.pem   our side (sandbox verifies requests)
    var/keys/wechatpay/apiv3.key             WeChat AEAD key, 32 ASCII characters         0600
    var/keys/wechatpay/apiv2.key             WeChat API v2 key (micropay signing), 32      0600
    var/keys/wechatpay/apiclient_cert.pem    WeChat: the certificate of merchant_private.pem,
                                             presented in mutual TLS to /secapi/ (reverse)
    var/keys/<channel>/ids.json              identifiers both sides agree on

RSA 2048, PEM (PKCS#8 private keys, SubjectPublicKeyInfo public keys); the file primitives are
`otd_shared.keyfiles` (the sandbox uses them too), whose KeyFileError becomes ChannelKeyError
here. `generate_dev_keys` never overwrites: files are created with an exclusive link, so two
processes racing at start-up end with one consistent key set; missing ids are added to an
existing ids.json, present ones kept.

The gateway never reads `channel_private.pem`: it only verifies what channels sign. The file
is made with the dev layout because the channel sandbox plays the channel with it.

ids.json also carries one id the design does not list: WeChat `merchant_serial`, the serial of
*our* merchant certificate that goes into the `Authorization` header of our API calls (the
design's `serial` is the platform certificate that signs notifications).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from otd_shared import keyfiles
from otd_shared.channels import ChannelCode
from otd_shared.keyfiles import (
    APICLIENT_CERT_PEM,
    APIV2_KEY_FILE,
    APIV3_KEY_FILE,
    CHANNEL_PRIVATE_PEM,
    CHANNEL_PUBLIC_PEM,
    IDS_FILE,
    KEY_DIR_MODE,
    MERCHANT_PRIVATE_PEM,
    MERCHANT_PUBLIC_PEM,
    PRIVATE_FILE_MODE,
    PUBLIC_FILE_MODE,
    KeyFileError,
)
from payment_gateway.errors import ChannelKeyError

APIV3_KEY_LEN: Final = 32

_ID_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_-.")
_ID_LEN_MAX: Final = 64
_APIV3_CHARS: Final = string.ascii_letters + string.digits


@dataclass(frozen=True, kw_only=True)
class KeySpec:
    """What one channel keeps under ``var/keys/<code>/``.

    Every keyed channel has the four PEM files and ids.json; ``required_ids`` must be in
    ids.json, ``new_dev_ids`` makes fresh dev ids in the channel's usual shape, ``apiv3_key``
    adds WeChat's AEAD key file, ``apiv2_key`` WeChat's API v2 key (the micropay XML calls
    are signed with it: MD5 / HMAC-SHA256, not RSA), ``client_certificate`` WeChat's
    ``apiclient_cert.pem`` (the certificate of our merchant key, for mutual TLS).
    """

    required_ids: tuple[str, ...]
    new_dev_ids: Callable[[], dict[str, str]]
    apiv3_key: bool = False
    apiv2_key: bool = False
    client_certificate: bool = False
    certificate_files: tuple[str, ...] = ()
    """PEM certificates the directory may hold (UnionPay: its CA chain), loaded when present."""
    make_dev_certificates: Callable[[Path], None] | None = None
    """Makes the dev certificates in the channel's directory (after its keys and ids)."""

    @property
    def files(self) -> tuple[str, ...]:
        """The files the gateway reads (the channel private key is the sandbox's)."""
        extra: tuple[str, ...] = (APIV3_KEY_FILE,) if self.apiv3_key else ()
        extra += (APIV2_KEY_FILE,) if self.apiv2_key else ()
        extra += (APICLIENT_CERT_PEM,) if self.client_certificate else ()
        return (MERCHANT_PRIVATE_PEM, MERCHANT_PUBLIC_PEM, CHANNEL_PUBLIC_PEM, IDS_FILE, *extra)


@dataclass(frozen=True)
class ClientCertificate:
    """Files of our TLS client identity (checked to belong together at load time)."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class ChannelKeySet:
    """Keys and identifiers of one channel as the gateway holds them: our key pair, the
    channel's public key (no channel private key: the gateway signs nothing as the channel)."""

    channel: ChannelCode
    channel_public_key: rsa.RSAPublicKey = field(repr=False)
    merchant_private_key: rsa.RSAPrivateKey = field(repr=False)
    merchant_public_key: rsa.RSAPublicKey = field(repr=False)
    ids: Mapping[str, str]
    apiv3_key: bytes | None = field(default=None, repr=False)
    apiv2_key: bytes | None = field(default=None, repr=False)
    certificates: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    """Extra PEM certificates by file name (``KeySpec.certificate_files``)."""
    client_certificate: ClientCertificate | None = None
    """Our API client certificate and its key (``KeySpec.client_certificate``)."""

    def id(self, name: str) -> str:
        """Return the identifier `name` from ids.json, or raise ChannelKeyError."""
        value = self.ids.get(name)
        if not value:
            raise ChannelKeyError(f"{self.channel}: ids.json has no {name!r}")
        return value

    def require_apiv3_key(self) -> bytes:
        """The WeChat APIv3 AEAD key (32 bytes)."""
        if self.apiv3_key is None:
            raise ChannelKeyError(f"{self.channel}: no {APIV3_KEY_FILE} loaded")
        return self.apiv3_key

    def require_apiv2_key(self) -> bytes:
        """The WeChat API v2 key (32 bytes) that signs the micropay XML calls."""
        if self.apiv2_key is None:
            raise ChannelKeyError(f"{self.channel}: no {APIV2_KEY_FILE} loaded")
        return self.apiv2_key


def load_keys(keys_dir: Path, channel: ChannelCode, spec: KeySpec) -> ChannelKeySet:
    """Load `keys_dir/<channel>/` (keys_dir is usually `<repo>/var/keys`).

    `channel_private.pem` is not read (the channel's, present only where the sandbox runs);
    every file of `KeySpec.files` is required. Raises ChannelKeyError naming the file that is
    wrong.
    """
    directory = keys_dir / channel
    with _as_channel_key_errors():
        merchant_private = keyfiles.load_private_pem(directory / MERCHANT_PRIVATE_PEM)
        channel_public = keyfiles.load_public_pem(directory / CHANNEL_PUBLIC_PEM)
        merchant_public = keyfiles.load_public_pem(directory / MERCHANT_PUBLIC_PEM)
        _check_pair(merchant_private, merchant_public, directory / MERCHANT_PUBLIC_PEM)
        apiv3 = _load_secret_key(directory / APIV3_KEY_FILE) if spec.apiv3_key else None
        apiv2 = _load_secret_key(directory / APIV2_KEY_FILE) if spec.apiv2_key else None
        ids = _load_ids(directory / IDS_FILE, spec)
        client_cert = (
            _client_certificate(directory, merchant_public) if spec.client_certificate else None
        )
        certificates = {
            name: keyfiles.read_small(directory / name)
            for name in spec.certificate_files
            if (directory / name).is_file()
        }
    return ChannelKeySet(
        channel=channel,
        channel_public_key=channel_public,
        merchant_private_key=merchant_private,
        merchant_public_key=merchant_public,
        ids=MappingProxyType(ids),
        apiv3_key=apiv3,
        apiv2_key=apiv2,
        certificates=MappingProxyType(certificates),
        client_certificate=client_cert,
    )


def generate_keys(keys_dir: Path, channel: ChannelCode, spec: KeySpec) -> None:
    """Create one channel's dev key layout, keeping whatever already exists."""
    directory = keys_dir / channel
    directory.mkdir(mode=KEY_DIR_MODE, parents=True, exist_ok=True)
    with _as_channel_key_errors():
        keyfiles.ensure_key_pair(directory / CHANNEL_PRIVATE_PEM, directory / CHANNEL_PUBLIC_PEM)
        keyfiles.ensure_key_pair(directory / MERCHANT_PRIVATE_PEM, directory / MERCHANT_PUBLIC_PEM)
        for wanted, name in ((spec.apiv3_key, APIV3_KEY_FILE), (spec.apiv2_key, APIV2_KEY_FILE)):
            if wanted:
                secret = "".join(secrets.choice(_APIV3_CHARS) for _ in range(APIV3_KEY_LEN))
                data = secret.encode("ascii")
                keyfiles.create_exclusive(directory / name, data, PRIVATE_FILE_MODE)
        _ensure_ids(directory / IDS_FILE, spec)
    if spec.make_dev_certificates is not None:
        spec.make_dev_certificates(directory)


def dev_digits(count: int) -> str:
    """`count` random decimal digits (for dev ids)."""
    return "".join(secrets.choice(string.digits) for _ in range(count))


@contextlib.contextmanager
def _as_channel_key_errors() -> Iterator[None]:
    """The shared primitives' KeyFileError, as the gateway's ChannelKeyError."""
    try:
        yield
    except KeyFileError as exc:
        raise ChannelKeyError(str(exc)) from None


# ---------------------------------------------------------------- loading


def _check_pair(private: rsa.RSAPrivateKey, public: rsa.RSAPublicKey, path: Path) -> None:
    if not keyfiles.same_public_key(private.public_key(), public):
        raise ChannelKeyError(f"{path} does not belong to its private key")


def _client_certificate(directory: Path, merchant_public: rsa.RSAPublicKey) -> ClientCertificate:
    """``apiclient_cert.pem``, which must certify our merchant key."""
    path = directory / APICLIENT_CERT_PEM
    try:
        certificate = x509.load_pem_x509_certificate(keyfiles.read_small(path))
    except ValueError:
        raise ChannelKeyError(f"{path} is not a PEM certificate") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not keyfiles.same_public_key(key, merchant_public):
        raise ChannelKeyError(f"{path} does not certify {MERCHANT_PRIVATE_PEM}")
    return ClientCertificate(cert_file=path, key_file=directory / MERCHANT_PRIVATE_PEM)


def _load_secret_key(path: Path) -> bytes:
    """A 32-character ASCII key file (WeChat's APIv3 AEAD key, its API v2 key)."""
    text = keyfiles.read_small(path).rstrip(b"\r\n")
    if len(text) != APIV3_KEY_LEN or not text.isascii() or not text.isalnum():
        raise ChannelKeyError(f"{path} must hold exactly {APIV3_KEY_LEN} ASCII letters/digits")
    return text


def _load_ids(path: Path, spec: KeySpec) -> dict[str, str]:
    raw = _read_ids_object(path, hint="")
    ids: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str) or not _is_plain_id(value):
            raise ChannelKeyError(f"{path}: {name!r} must be a short string of [A-Za-z0-9_.-]")
        ids[name] = value
    missing = [name for name in spec.required_ids if name not in ids]
    if missing:
        raise ChannelKeyError(f"{path} lacks {', '.join(missing)}")
    return ids


def _read_ids_object(path: Path, *, hint: str) -> dict[str, object]:
    try:
        raw = json.loads(keyfiles.read_small(path))
    except ValueError:
        raise ChannelKeyError(f"{path} is not valid JSON{hint}") from None
    if not isinstance(raw, dict):
        raise ChannelKeyError(f"{path} must hold a JSON object")
    return raw


def _is_plain_id(value: str) -> bool:
    return 0 < len(value) <= _ID_LEN_MAX and all(char in _ID_CHARS for char in value)


# ---------------------------------------------------------------- generation


def _ensure_ids(path: Path, spec: KeySpec) -> None:
    fresh = spec.new_dev_ids()
    if keyfiles.create_exclusive(path, _ids_json(fresh), PUBLIC_FILE_MODE):
        return
    existing = _read_ids_object(path, hint="; fix or remove it")
    missing = {name: value for name, value in fresh.items() if name not in existing}
    if missing:
        keyfiles.replace_atomically(path, _ids_json({**existing, **missing}), PUBLIC_FILE_MODE)


def _ids_json(ids: Mapping[str, object]) -> bytes:
    return (json.dumps(dict(ids), indent=2, sort_keys=True) + "\n").encode("ascii")
