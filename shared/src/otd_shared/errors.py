"""The root of every service's exception tree.

    DomainError (http_status, code)      -- raised by domain and service layers
    ├── NotFound            404
    ├── Conflict            409          -- illegal transition, duplicate, locked
    │   └── IllegalTransition            -- names the entity and its from/to states
    └── InvalidInput        422          -- names the offending field
        └── InvalidField                 -- ``field`` + what is wrong with it
            └── InvalidAmount            -- a money field (``*_fen``)

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


class IllegalTransition(Conflict):
    """A state change an entity's state machine does not allow from its current state."""

    code = "illegal_transition"

    def __init__(
        self, entity: str, entity_id: str, from_state: str, to_state: str, because: str = ""
    ) -> None:
        message = f"{entity} {entity_id} cannot move from {from_state} to {to_state}"
        super().__init__(f"{message}: {because}" if because else message)
        self.entity = entity
        self.entity_id = entity_id
        self.from_state = from_state
        self.to_state = to_state


class InvalidField(InvalidInput):
    """A field has a value the domain cannot accept; ``field`` names it."""

    code = "invalid_field"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}", field=field)


class InvalidAmount(InvalidField):
    """A money field (``*_fen``) is not a valid amount or breaks an amount rule."""

    code = "invalid_amount"
