"""Idempotency-Key handling: one execution per key, the first response replayed.

The key is claimed in the request's own transaction (adapters/idempotency.py), so a concurrent
request with the same key waits for the first to commit and then replays its response. A
DomainError is a response too (stored and replayed); the action runs in a savepoint so that an
error leaves none of its writes behind. A different request under a used key is 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from otd_shared.errors import DomainError
from payment_gateway.adapters.idempotency import KEY_LEN_MAX
from payment_gateway.errors import IdempotencyKeyReused, MissingIdempotencyKey
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

Response = tuple[int, Any]
Action = Callable[[GatewayUnitOfWork], Awaitable[Response]]


def request_hash(method: str, path: str, body: object) -> str:
    """A stable fingerprint of a request (canonical JSON of the validated body)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str:
    """The Idempotency-Key header value, validated."""
    if key is None or not key.strip():
        raise MissingIdempotencyKey(
            "the Idempotency-Key header is required", field="Idempotency-Key"
        )
    if len(key) > KEY_LEN_MAX or not key.isascii() or not key.isprintable():
        raise MissingIdempotencyKey(
            f"Idempotency-Key must be printable ASCII of at most {KEY_LEN_MAX} characters",
            field="Idempotency-Key",
        )
    return key


async def run_idempotent(
    gw: Gateway, *, scope: str, key: str, fingerprint: str, action: Action
) -> Response:
    """Execute ``action`` once for ``(scope, key)``; replay its stored response afterwards."""
    async with gw.uow() as uow:
        stored = await uow.idempotency.claim(scope, key, fingerprint, now=gw.now())
        if stored.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request", field="Idempotency-Key"
            )
        if stored.response_status is not None:
            return stored.response_status, stored.response_body
        try:
            async with uow.session.begin_nested():
                status, body = await action(uow)
        except DomainError as exc:
            status, body = exc.http_status, exc.to_body()
        await uow.idempotency.complete(scope, key, status=status, body=body, now=gw.now())
        await uow.commit()
    return status, body
