"""The order QR: a signed, expiring, single-use token bound to billing, amount and store.

``OTDQR1.<token id hex>.<expiry unix s>.<signature>`` where the signature is the first 32
characters of base64url(HMAC-SHA256(key, "OTDQR1|id|billing|amount_fen|store|expiry")). The
sales app shows ``qr_content`` (``otdpay://pos/charge?token=…``); a cashier may type the
8-digit ``short_code`` instead. Single use and expiry are enforced against the stored token;
the signature makes a forged or altered token fail before any lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Final

TOKEN_VERSION: Final = "OTDQR1"  # noqa: S105  # a format tag, not a secret
QR_CONTENT_PREFIX: Final = "otdpay://pos/charge?token="
SHORT_CODE_DIGITS: Final = 8
SIGNATURE_CHARS: Final = 32
TOKEN_CHARS_MAX: Final = 128


class BadToken(ValueError):
    """Not a token of ours (format or signature)."""


@dataclass(frozen=True)
class TokenClaims:
    """What a token is bound to."""

    token_id: uuid.UUID
    billing_id: uuid.UUID
    amount_fen: int
    store_id: str
    expires_at_s: int


def _signature(key: bytes, c: TokenClaims) -> str:
    fields = (TOKEN_VERSION, c.token_id.hex, c.billing_id, c.amount_fen, c.store_id, c.expires_at_s)
    text = "|".join(str(f) for f in fields)
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def sign(key: bytes, claims: TokenClaims) -> str:
    """The token for ``claims``."""
    return f"{TOKEN_VERSION}.{claims.token_id.hex}.{claims.expires_at_s}.{_signature(key, claims)}"


def parse(token: str) -> tuple[uuid.UUID, int, str]:
    """(token id, expiry, signature) of a well-formed token; BadToken otherwise."""
    if token.startswith(QR_CONTENT_PREFIX):
        token = token[len(QR_CONTENT_PREFIX) :]
    parts = token.split(".")
    if len(token) > TOKEN_CHARS_MAX or len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise BadToken("not an order-QR token")
    try:
        token_id = uuid.UUID(hex=parts[1])
        expires_at_s = int(parts[2])
    except ValueError:
        raise BadToken("not an order-QR token") from None
    return token_id, expires_at_s, parts[3]


def verify(key: bytes, signature: str, claims: TokenClaims) -> None:
    """BadToken unless ``signature`` is ours for ``claims`` (constant-time compare)."""
    if not hmac.compare_digest(signature.encode(), _signature(key, claims).encode()):
        raise BadToken("the order-QR token's signature does not verify")


def new_short_code() -> str:
    """A random 8-digit code a cashier can type on the terminal."""
    return f"{secrets.randbelow(10**SHORT_CODE_DIGITS):0{SHORT_CODE_DIGITS}d}"
