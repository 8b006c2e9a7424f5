"""RSA key files of the dev channel key layout (docs/channel-formats.md §0), neutral primitives.

The layout is one directory per channel under `var/keys/`::

    channel_private.pem   channel side (the sandbox signs)            0600
    channel_public.pem    channel side (the gateway verifies)
    merchant_private.pem  our side (the gateway signs requests)       0600
    merchant_public.pem   our side (the sandbox verifies requests)
    apiv3.key             WeChat AEAD key, 32 ASCII characters        0600
    apiv2.key             WeChat API v2 key (micropay signing)        0600
    apiclient_cert.pem    WeChat: the certificate of merchant_private.pem (mutual TLS)
    ids.json              identifiers both sides agree on

RSA 2048, PEM (PKCS#8 private keys, SubjectPublicKeyInfo public keys). Files are created with
an exclusive link of a complete temporary file, so readers never see half a key and two
processes racing at start-up end with one consistent pair. Each side loads what it needs with
these helpers; which ids a channel has is each side's business.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CHANNEL_PRIVATE_PEM: Final = "channel_private.pem"
CHANNEL_PUBLIC_PEM: Final = "channel_public.pem"
MERCHANT_PRIVATE_PEM: Final = "merchant_private.pem"
MERCHANT_PUBLIC_PEM: Final = "merchant_public.pem"
APIV3_KEY_FILE: Final = "apiv3.key"
APIV2_KEY_FILE: Final = "apiv2.key"  # WeChat API v2 key (micropay XML signing), 32 characters
IDS_FILE: Final = "ids.json"
CHANNEL_CERT_PEM: Final = "channel_cert.pem"  # UnionPay: the signing certificate (dev CA leaf)
APICLIENT_CERT_PEM: Final = "apiclient_cert.pem"  # WeChat: our API client certificate (mTLS)

RSA_KEY_SIZE_BITS: Final = 2048
RSA_PUBLIC_EXPONENT: Final = 65537
KEY_FILE_SIZE_MAX_BYTES: Final = 16 * 1024
PRIVATE_FILE_MODE: Final = 0o600
PUBLIC_FILE_MODE: Final = 0o644
KEY_DIR_MODE: Final = 0o700


class KeyFileError(Exception):
    """A key file that is missing, unreadable, too large or not what it should be."""


def read_small(path: Path) -> bytes:
    """The bytes of a key-layout file (at most KEY_FILE_SIZE_MAX_BYTES)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > KEY_FILE_SIZE_MAX_BYTES:
        raise KeyFileError(f"{path} is larger than {KEY_FILE_SIZE_MAX_BYTES} bytes")
    return data


def load_private_pem(path: Path) -> rsa.RSAPrivateKey:
    """An unencrypted PEM RSA private key of at least RSA_KEY_SIZE_BITS."""
    try:
        key = serialization.load_pem_private_key(read_small(path), password=None)
    except ValueError:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < RSA_KEY_SIZE_BITS:
        raise KeyFileError(f"{path} is not an RSA key of at least {RSA_KEY_SIZE_BITS} bits")
    return key


def load_public_pem(path: Path) -> rsa.RSAPublicKey:
    """A PEM RSA public key of at least RSA_KEY_SIZE_BITS."""
    try:
        key = serialization.load_pem_public_key(read_small(path))
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < RSA_KEY_SIZE_BITS:
        raise KeyFileError(f"{path} is not an RSA key of at least {RSA_KEY_SIZE_BITS} bits")
    return key


def same_public_key(left: rsa.RSAPublicKey, right: rsa.RSAPublicKey) -> bool:
    """True when both objects hold the same RSA public key."""
    return left.public_numbers() == right.public_numbers()


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_key_pair(private_path: Path, public_path: Path) -> None:
    """Create a fresh RSA pair unless the private key exists; always (re)derive a missing public.

    A public file without its private key is an error (never replaced silently).
    """
    if not private_path.exists():
        if public_path.exists():
            raise KeyFileError(f"{public_path} exists without its private key; not replacing it")
        key = rsa.generate_private_key(
            public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_SIZE_BITS
        )
        create_exclusive(private_path, private_pem(key), PRIVATE_FILE_MODE)
    private = load_private_pem(private_path)  # the race winner's key is the one to derive from
    create_exclusive(public_path, public_pem(private.public_key()), PUBLIC_FILE_MODE)
    if not same_public_key(private.public_key(), load_public_pem(public_path)):
        raise KeyFileError(f"{public_path} does not belong to its private key")


def create_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` unless it exists; True when this call created it."""
    temp = write_temp(path.parent, data, mode)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:  # no hard links on this filesystem: exclusive create instead
        return _create_exclusive_direct(path, data, mode)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return True


def replace_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` through a temporary file and an atomic rename."""
    os.replace(write_temp(path.parent, data, mode), path)


def write_temp(directory: Path, data: bytes, mode: int) -> Path:
    """A complete, fsynced temporary file in `directory` with `mode`."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return Path(name)


def _create_exclusive_direct(path: Path, data: bytes, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True
