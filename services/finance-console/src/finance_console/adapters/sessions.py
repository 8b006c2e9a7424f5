"""Signed session cookies (itsdangerous): who is signed in, and the session's CSRF token.

The cookie holds ``{"u": username, "r": role, "c": csrf token}`` signed with the console's
key and a timestamp; it is HttpOnly and SameSite=Lax, so page scripts never read it and
other sites' forms do not carry it. Forms carry the CSRF token in a hidden field.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from finance_console.domain.access import ConsoleRole, ConsoleUser

COOKIE_NAME = "otd_console_session"
CSRF_TOKEN_BYTES = 24
SALT = "otd-console-session"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user with the session's CSRF token."""

    user: ConsoleUser
    csrf_token: str

    def csrf_ok(self, presented: str | None) -> bool:
        """True when the form carried this session's token (constant-time compare)."""
        return bool(presented) and hmac.compare_digest(
            self.csrf_token.encode(), (presented or "").encode()
        )


class SessionCodec:
    """Signs and reads session cookies."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.max_age_s = max_age_s

    def new_session(self, user: ConsoleUser) -> tuple[Session, str]:
        """A fresh session (new CSRF token) and its cookie value."""
        session = Session(user=user, csrf_token=secrets.token_urlsafe(CSRF_TOKEN_BYTES))
        value = self._serializer.dumps(
            {"u": user.username, "r": user.role.value, "c": session.csrf_token}
        )
        return session, value

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None when missing, forged, expired or malformed."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
            user = ConsoleUser(username=str(data["u"]), role=ConsoleRole(data["r"]))
            return Session(user=user, csrf_token=str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
