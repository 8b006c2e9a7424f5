"""The sandbox's view of the dev key layout (`var/keys/<channel>/`, see otd_shared.keyfiles).

The sandbox is the channel: it signs with `channel_private.pem`, verifies our requests with
`merchant_public.pem`, encrypts WeChat resources with `apiv3.key` (and signs its API v2
micropay XML with `apiv2.key`), and issues the identifiers
in `ids.json` (mchid, app_id, merId, ...). When the layout is missing or partial it creates
what is missing, as a channel issues keys and ids at onboarding; existing files and ids are
kept, so the gateway and the sandbox always agree on one layout. Which ids and key files a
channel has is its `KeyLayout`, declared in its package's `SandboxChannel`.

`channel_cert.pem` (UnionPay's signing certificate, issued by the dev CA the launcher makes) is
read when present. `merchant_private_key` is loaded when present: only the sandbox's test kit
(which plays the merchant) uses it.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from otd_shared import keyfiles
from otd_shared.keyfiles import KeyFileError

APIV3_KEY_LEN: Final = 32
ID_LEN_MAX: Final = 64
_ID_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_-.")
_APIV3_CHARS: Final = string.ascii_letters + string.digits


class SandboxKeyError(Exception):
    """The key layout is unusable for the sandbox (missing private key, bad ids.json, ...)."""


@dataclass(frozen=True)
class KeyLayout:
    """What a channel issues at onboarding besides its and our RSA key pairs."""

    issue_ids: Callable[[], dict[str, str]]
    """Fresh identifiers in the channel's usual shape (the names are the required ids)."""
    apiv3_key: bool = False
    """An AEAD key file (WeChat Pay's ``apiv3.key``)."""
    apiv2_key: bool = False
    """WeChat Pay's API v2 key (``apiv2.key``): the micropay XML is signed with it."""


@dataclass(frozen=True)
class SandboxKeySet:
    """One channel's keys and ids as the channel holds them."""

    channel: str
    channel_private_key: rsa.RSAPrivateKey = field(repr=False)
    channel_public_key: rsa.RSAPublicKey = field(repr=False)
    merchant_public_key: rsa.RSAPublicKey = field(repr=False)
    ids: Mapping[str, str]
    merchant_private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    apiv3_key: bytes | None = field(default=None, repr=False)
    apiv2_key: bytes | None = field(default=None, repr=False)
    sign_cert_pem: str | None = field(default=None, repr=False)
    """The certificate of `channel_private_key` (UnionPay's `channel_cert.pem`, issued by the
    dev CA), which UnionPay 5.1.0 notifications carry in `signPubKeyCert`; None: none."""

    def id(self, name: str) -> str:
        """The identifier `name` from ids.json; SandboxKeyError when absent."""
        value = self.ids.get(name)
        if not value:
            raise SandboxKeyError(f"{self.channel}: ids.json has no {name!r}")
        return value

    def require_apiv3_key(self) -> bytes:
        """The WeChat APIv3 AEAD key."""
        if self.apiv3_key is None:
            raise SandboxKeyError(f"{self.channel}: no {keyfiles.APIV3_KEY_FILE}")
        return self.apiv3_key

    def require_apiv2_key(self) -> bytes:
        """The WeChat API v2 key (micropay signatures)."""
        if self.apiv2_key is None:
            raise SandboxKeyError(f"{self.channel}: no {keyfiles.APIV2_KEY_FILE}")
        return self.apiv2_key

    def require_merchant_private_key(self) -> rsa.RSAPrivateKey:
        """The merchant's private key (test kit only: it plays the merchant)."""
        if self.merchant_private_key is None:
            raise SandboxKeyError(f"{self.channel}: no {keyfiles.MERCHANT_PRIVATE_PEM}")
        return self.merchant_private_key


def _load_cert(path: Path) -> str | None:
    """A PEM certificate's text, or None when the file is absent."""
    if not path.is_file():
        return None
    text = path.read_text("ascii")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise KeyFileError(f"{path} is not a PEM certificate")
    return text


def load_channel_keys(
    keys_dir: Path, channel: str, layout: KeyLayout | None = None
) -> SandboxKeySet:
    """Load `keys_dir/<channel>/`; SandboxKeyError naming what is wrong.

    With its `layout` the ids it issues are required (and the AEAD key when it has one);
    without, what is there is loaded (tests and tools that sign with one channel's keys)."""
    directory = keys_dir / channel
    try:
        merchant_private_path = directory / keyfiles.MERCHANT_PRIVATE_PEM
        apiv3 = layout.apiv3_key if layout else (directory / keyfiles.APIV3_KEY_FILE).exists()
        apiv2 = layout.apiv2_key if layout else (directory / keyfiles.APIV2_KEY_FILE).exists()
        required = tuple(layout.issue_ids()) if layout else ()
        return SandboxKeySet(
            channel=channel,
            channel_private_key=keyfiles.load_private_pem(directory / keyfiles.CHANNEL_PRIVATE_PEM),
            channel_public_key=keyfiles.load_public_pem(directory / keyfiles.CHANNEL_PUBLIC_PEM),
            merchant_public_key=keyfiles.load_public_pem(directory / keyfiles.MERCHANT_PUBLIC_PEM),
            ids=MappingProxyType(_load_ids(directory / keyfiles.IDS_FILE, required)),
            merchant_private_key=(
                keyfiles.load_private_pem(merchant_private_path)
                if merchant_private_path.exists()
                else None
            ),
            apiv3_key=_load_secret(directory / keyfiles.APIV3_KEY_FILE) if apiv3 else None,
            apiv2_key=_load_secret(directory / keyfiles.APIV2_KEY_FILE) if apiv2 else None,
            sign_cert_pem=_load_cert(directory / keyfiles.CHANNEL_CERT_PEM),
        )
    except KeyFileError as exc:
        raise SandboxKeyError(str(exc)) from None


def ensure_layout(keys_dir: Path, layouts: Mapping[str, KeyLayout]) -> None:
    """Create whatever is missing of the layout of every channel; keep what exists."""
    try:
        for channel, layout in layouts.items():
            directory = keys_dir / channel
            directory.mkdir(mode=keyfiles.KEY_DIR_MODE, parents=True, exist_ok=True)
            keyfiles.ensure_key_pair(
                directory / keyfiles.CHANNEL_PRIVATE_PEM, directory / keyfiles.CHANNEL_PUBLIC_PEM
            )
            keyfiles.ensure_key_pair(
                directory / keyfiles.MERCHANT_PRIVATE_PEM, directory / keyfiles.MERCHANT_PUBLIC_PEM
            )
            secret_files = {
                keyfiles.APIV3_KEY_FILE: layout.apiv3_key,
                keyfiles.APIV2_KEY_FILE: layout.apiv2_key,
            }
            for name in (name for name, wanted in secret_files.items() if wanted):
                fresh = "".join(secrets.choice(_APIV3_CHARS) for _ in range(APIV3_KEY_LEN))
                keyfiles.create_exclusive(
                    directory / name, fresh.encode("ascii"), keyfiles.PRIVATE_FILE_MODE
                )
            _ensure_ids(directory / keyfiles.IDS_FILE, layout)
    except KeyFileError as exc:
        raise SandboxKeyError(str(exc)) from None


def load_all(keys_dir: Path, layouts: Mapping[str, KeyLayout]) -> dict[str, SandboxKeySet]:
    """Every channel's key set, creating the missing parts of the layout first."""
    ensure_layout(keys_dir, layouts)
    return {
        channel: load_channel_keys(keys_dir, channel, layout) for channel, layout in layouts.items()
    }


def _load_secret(path: Path) -> bytes:
    """A 32-character key file (``apiv3.key``, ``apiv2.key``)."""
    text = keyfiles.read_small(path).rstrip(b"\r\n")
    if len(text) != APIV3_KEY_LEN or not text.isascii() or not text.isalnum():
        raise SandboxKeyError(f"{path} must hold exactly {APIV3_KEY_LEN} ASCII letters/digits")
    return text


def _read_ids(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(keyfiles.read_small(path))
    except ValueError:
        raise SandboxKeyError(f"{path} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise SandboxKeyError(f"{path} must hold a JSON object")
    return raw


def _load_ids(path: Path, required: tuple[str, ...]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name, value in _read_ids(path).items():
        if not isinstance(value, str) or not (0 < len(value) <= ID_LEN_MAX):
            raise SandboxKeyError(f"{path}: {name!r} must be a short string")
        if not set(value) <= _ID_CHARS:
            raise SandboxKeyError(f"{path}: {name!r} must be of [A-Za-z0-9_.-]")
        ids[name] = value
    missing = sorted(set(required) - set(ids))
    if missing:
        raise SandboxKeyError(f"{path} lacks {', '.join(missing)}")
    return ids


def _ids_json(ids: Mapping[str, object]) -> bytes:
    return (json.dumps(dict(ids), indent=2, sort_keys=True) + "\n").encode("ascii")


def _ensure_ids(path: Path, layout: KeyLayout) -> None:
    fresh = layout.issue_ids()
    if keyfiles.create_exclusive(path, _ids_json(fresh), keyfiles.PUBLIC_FILE_MODE):
        return
    existing = _read_ids(path)
    missing = {name: value for name, value in fresh.items() if name not in existing}
    if missing:
        keyfiles.replace_atomically(
            path, _ids_json({**existing, **missing}), keyfiles.PUBLIC_FILE_MODE
        )
