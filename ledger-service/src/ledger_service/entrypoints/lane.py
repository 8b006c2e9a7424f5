"""``PostingLane``: ``POST /v1/journals`` served ahead of the generic middlewares.

Single-journal posts are the ledger's hot HTTP path; the shared stack (two Starlette
``BaseHTTPMiddleware`` layers, dependency resolution, response-model re-validation) costs more
per request than the posting itself. Like the gateway's callback lane, this pure ASGI
middleware answers that one route itself and keeps every visible behaviour of the FastAPI
route in `api.py` (which stays the documented fallback):

- the bearer token and the finance roles (401 with ``WWW-Authenticate``, 403);
- the request-body limit (413), the correlation id (``X-Correlation-ID`` in and out) and the
  ``http_requests_total`` / ``http_request_duration_seconds`` metrics;
- 422 bodies in FastAPI's validation format, domain errors as ``{"detail", "code", "field"}``;
- 201 for a new journal, 200 for a replayed source id, with the JournalOut body.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Final

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger_service.entrypoints.schemas import JournalIn, JournalOut
from ledger_service.service_layer.commands import LedgerCommands
from otd_shared.auth import AuthError, Role, TokenVerifier, authorize
from otd_shared.body_limit import read_limited_body, too_large_body
from otd_shared.errors import DomainError
from otd_shared.observability import (
    CORRELATION_HEADER,
    ServiceMetrics,
    current_correlation_id,
    set_correlation_id,
)
from otd_shared.strict_input import (
    StrictInputError,
    refuse_body,
    strict_input_response,
    validation_error_body,
)

log = logging.getLogger(__name__)
LANE_PATH: Final = "/v1/journals"
ALLOWED_ROLES: Final = frozenset({Role.FINANCE, Role.FINANCE_APPROVER})


class PostingLane:
    """Pure ASGI middleware: ``POST /v1/journals`` straight to the posting command."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        commands: LedgerCommands,
        verifier: TokenVerifier,
        metrics: ServiceMetrics,
        max_body_bytes: int,
    ) -> None:
        self._app = app
        self._commands = commands
        self._verifier = verifier
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != LANE_PATH:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        set_correlation_id(request.headers.get(CORRELATION_HEADER) or uuid.uuid4().hex)
        try:
            response = await self._answer(request)
        except Exception:  # noqa: BLE001  (a 500 like the app's, logged with its traceback)
            log.exception("posting a journal failed")
            response = JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        response.headers[CORRELATION_HEADER] = current_correlation_id()
        self._metrics.http_requests.labels("POST", LANE_PATH, str(response.status_code)).inc()
        self._metrics.http_latency.labels("POST", LANE_PATH).observe(time.perf_counter() - started)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        refused = self._refuse_caller(request)
        if refused is not None:
            return refused
        body, seen = await read_limited_body(request, self._max_body_bytes)
        if seen > self._max_body_bytes:
            return JSONResponse(too_large_body(self._max_body_bytes), status_code=413)
        try:
            refuse_body(request.scope, body)
            journal_in = JournalIn.model_validate_json(body)
        except StrictInputError as exc:
            return strict_input_response(exc)
        except ValidationError as exc:
            errors = [
                {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
            ]
            return JSONResponse(validation_error_body(errors), status_code=422)
        try:
            result = await self._commands.post_journal(journal_in.to_draft())
        except DomainError as exc:
            return JSONResponse(exc.to_body(), status_code=exc.http_status)
        out = JournalOut.of(result.journal, created=result.created)
        return Response(
            out.model_dump_json(),
            status_code=201 if result.created else 200,
            media_type="application/json",
        )

    def _refuse_caller(self, request: Request) -> Response | None:
        try:
            authorize(self._verifier, request.headers.get("Authorization", ""), ALLOWED_ROLES)
        except AuthError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)
        return None
