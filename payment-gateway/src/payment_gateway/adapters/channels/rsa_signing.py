"""RSA PKCS#1 v1.5 signatures in Base64, as every channel here uses them.

SHA256withRSA: WeChat APIv3, Alipay RSA2, Lakala, UnionPay 5.1.0 (over a hex digest).
SHA1withRSA: Alipay RSA (legacy), Allinpay 收银宝 `signtype=RSA`.
See docs/channel-formats.md §1.2, §3.3, §5.1, §6.1 and §6.2.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payment_gateway.errors import BadSignature, MissingField

HashName = Literal["sha256", "sha1"]

SIGNATURE_B64_LEN_MAX = 1024  # a 4096-bit signature is 684 Base64 characters


def _hash(name: HashName) -> hashes.HashAlgorithm:
    return hashes.SHA256() if name == "sha256" else hashes.SHA1()  # noqa: S303 - channel protocol


def sign_b64(private_key: rsa.RSAPrivateKey, message: bytes, hash_name: HashName = "sha256") -> str:
    """Sign `message` with PKCS#1 v1.5 and return standard Base64 (no line breaks)."""
    signature = private_key.sign(message, padding.PKCS1v15(), _hash(hash_name))
    return base64.b64encode(signature).decode("ascii")


def decode_signature_b64(signature_b64: str, public_key: rsa.RSAPublicKey) -> bytes:
    """Strictly decode a Base64 signature and check it has the key's modulus length."""
    if not signature_b64:
        raise MissingField("signature", where="signature")
    if len(signature_b64) > SIGNATURE_B64_LEN_MAX or not signature_b64.isascii():
        raise BadSignature("signature is not Base64 of a plausible length")
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("signature is not valid Base64") from None
    if len(raw) != (public_key.key_size + 7) // 8:
        raise BadSignature("signature length does not match the key size")
    return raw


def verify_b64(
    public_key: rsa.RSAPublicKey,
    signature_b64: str,
    message: bytes,
    hash_name: HashName = "sha256",
) -> None:
    """Verify a Base64 PKCS#1 v1.5 signature over `message`; raise BadSignature if it fails."""
    raw = decode_signature_b64(signature_b64, public_key)
    try:
        public_key.verify(raw, message, padding.PKCS1v15(), _hash(hash_name))
    except InvalidSignature:
        raise BadSignature("signature does not verify") from None


def same_public_key(left: rsa.RSAPublicKey, right: rsa.RSAPublicKey) -> bool:
    """True when both objects hold the same RSA public key."""
    return left.public_numbers() == right.public_numbers()
