"""The root of every service's exception tree.

    DomainError (http_status, code)      -- raised by domain and service layers
    ├── NotFound            404
    ├── Conflict            409          -- illegal transition, duplicate, locked
    └── InvalidInput        422          -- names the offending field

Each service's own ``errors.py`` subclasses these; the shared app turns them into
``{"detail": message, "code": code, "field": field?}`` responses, never a 500.
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure with an HTTP status and a stable machine-readable code."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, str]:
        """The JSON error body."""
        body = {"detail": self.message, "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body


class NotFound(DomainError):
    """The addressed thing does not exist."""

    http_status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but conflicts with the current state."""

    http_status = 409
    code = "conflict"


class InvalidInput(DomainError):
    """The request is malformed or violates a rule about its values."""

    http_status = 422
    code = "invalid_input"
