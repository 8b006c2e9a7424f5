"""Bearer-token auth with the roles of README.md "The services in more detail".

Tokens map to one role each (``var/dev-tokens.json`` locally, a Secret in
production). A missing or unknown token is 401; a known token whose role the
endpoint does not allow is 403. Callbacks use channel signatures instead.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import HTTPException, Request, status


class Role(StrEnum):
    """Every role a caller can hold."""

    APP_BACKEND = "app-backend"
    POS_INTEGRATOR = "pos-integrator"
    CASHIER = "cashier"
    FINANCE = "finance"
    FINANCE_APPROVER = "finance-approver"
    BANK = "bank"
    INSTALLER = "installer"
    SRE = "sre"
    MARKETING = "marketing"
    SERVICE = "service"  # service-to-service calls (recon → the gateway's payment corrections)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the role and a short token fingerprint for audit logs."""

    role: Role
    subject: str


class TokenVerifier:
    """Looks tokens up in constant time per candidate."""

    def __init__(self, tokens_by_value: dict[str, str]) -> None:
        self._tokens = [(token.encode(), Role(role)) for token, role in tokens_by_value.items()]

    def principal_for(self, token: str) -> Principal | None:
        """The principal holding this token, or None."""
        presented = token.encode()
        found: Role | None = None
        for candidate, role in self._tokens:
            if hmac.compare_digest(candidate, presented):
                found = role
        if found is None:
            return None
        return Principal(role=found, subject=f"{found.value}:{token[-4:]}")


class AuthError(Exception):
    """Why a caller is refused: ``status`` 401 (no/unknown token) or 403 (wrong role)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """``WWW-Authenticate`` on 401, as RFC 6750 asks."""
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


def authorize(
    verifier: TokenVerifier, authorization_header: str, allowed: frozenset[Role]
) -> Principal:
    """The caller of an ``Authorization: Bearer …`` header, or AuthError (401/403)."""
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(status.HTTP_401_UNAUTHORIZED, "missing bearer token")
    principal = verifier.principal_for(token.strip())
    if principal is None:
        raise AuthError(status.HTTP_401_UNAUTHORIZED, "invalid bearer token")
    if principal.role not in allowed:
        raise AuthError(
            status.HTTP_403_FORBIDDEN, f"role {principal.role.value} may not call this endpoint"
        )
    return principal


def require_roles(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency admitting only the given roles (SRE is never implied)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            return authorize(verifier, request.headers.get("Authorization", ""), allowed)
        except AuthError as exc:
            raise HTTPException(exc.status, detail=exc.detail, headers=exc.headers) from exc

    return dependency
