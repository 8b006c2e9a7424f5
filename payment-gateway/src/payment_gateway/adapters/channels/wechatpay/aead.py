"""WeChat Pay APIv3 `resource` encryption: AEAD_AES_256_GCM (docs/channel-formats.md §1.4, App. A).

Key: the 32-byte APIv3 key. Nonce: 12 ASCII bytes. Associated data: short, may be empty.
`ciphertext` is Base64 of the encrypted bytes followed by the 16-byte GCM tag (the Java
`AES/GCM/NoPadding` layout, which is also what `cryptography`'s AESGCM produces and expects).
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payment_gateway.errors import DecryptionFailed, Malformed

ALGORITHM: Final = "AEAD_AES_256_GCM"
APIV3_KEY_LEN: Final = 32
NONCE_LEN: Final = 12
TAG_LEN: Final = 16
ASSOCIATED_DATA_LEN_MAX: Final = 64
CIPHERTEXT_B64_LEN_MAX: Final = 64 * 1024


def _check_key(apiv3_key: bytes) -> None:
    if len(apiv3_key) != APIV3_KEY_LEN:
        raise ValueError("the APIv3 key must be 32 bytes")


def _nonce_bytes(nonce: str) -> bytes:
    raw = nonce.encode("utf-8")
    if len(raw) != NONCE_LEN:
        raise Malformed("resource nonce must be 12 bytes")
    return raw


def _associated_bytes(associated_data: str) -> bytes:
    raw = associated_data.encode("utf-8")
    if len(raw) > ASSOCIATED_DATA_LEN_MAX:
        raise Malformed("resource associated_data is too long")
    return raw


def decrypt_resource(
    apiv3_key: bytes, *, nonce: str, associated_data: str, ciphertext_b64: str
) -> bytes:
    """Decrypt a notification `resource`; DecryptionFailed when the tag does not verify."""
    _check_key(apiv3_key)
    if len(ciphertext_b64) > CIPHERTEXT_B64_LEN_MAX:
        raise Malformed("resource ciphertext is too long")
    try:
        sealed = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("resource ciphertext is not Base64") from None
    if len(sealed) < TAG_LEN:
        raise DecryptionFailed("resource ciphertext is shorter than the GCM tag")
    try:
        return AESGCM(apiv3_key).decrypt(
            _nonce_bytes(nonce), sealed, _associated_bytes(associated_data)
        )
    except InvalidTag:
        raise DecryptionFailed("resource does not decrypt with our APIv3 key") from None
