"""Strict input for every service: text is UTF-8 without NUL or lone surrogates, JSON numbers
are finite, and a 422 can always be serialised.

PostgreSQL refuses NUL in text (and asyncpg refuses lone surrogates), so such input used to
reach the database and answer 500; ``NaN``/``Infinity``/``1e400`` in a body broke the 422
handler, which echoes the offending value. ``StrictInputMiddleware`` (pure ASGI, inside the
body limit) refuses both before any route runs:

- the path and the query string, percent-decoded, must be UTF-8 without NUL;
- a JSON body (no content type, ``application/json`` or ``+json``) must be UTF-8 (no BOM,
  no UTF-16/32, no other ``charset``), its numbers finite, its strings and keys free of NUL
  and lone surrogates; a form body (``application/x-www-form-urlencoded``) like the query.

Refusals are FastAPI's documented 422 shape (``{"detail": [{"loc", "msg", "type"}]}``) so
every route's documented 422 schema holds. ``validation_error_body`` is that shape for any
``RequestValidationError`` with every value JSON-safe; fast lanes that validate bodies
themselves call ``refuse_json_body`` and ``validation_error_body`` directly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_ERROR_TYPE: Final = "strict_input"
BAD_TEXT: Final = re.compile("[\x00\ud800-\udfff]")
"""NUL or a UTF-16 surrogate code point (only ever lone in a Python str)."""
MAX_ECHOED_INPUT_CHARS: Final = 200
JSON_SUBTYPE: Final = "json"
FORM_TYPE: Final = "application/x-www-form-urlencoded"
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Loc = tuple[str | int, ...]


class StrictInputError(ValueError):
    """One refused piece of input: where (``loc``, FastAPI style) and what is wrong."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message

    def to_error(self) -> dict[str, Any]:
        """The FastAPI validation error item."""
        return {"type": STRICT_ERROR_TYPE, "loc": list(self.loc), "msg": self.message}


def refuse_text(value: str, loc: Loc) -> None:
    """Raise when ``value`` holds NUL or a lone surrogate."""
    found = BAD_TEXT.search(value)
    if found is None:
        return
    what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
    raise StrictInputError(loc, f"text must not contain {what}")


def refuse_url_part(raw: bytes, loc: Loc) -> None:
    """Raise when a percent-encoded path or query is not UTF-8 or holds NUL."""
    decoded = unquote_to_bytes(raw.replace(b"+", b" "))
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictInputError(loc, "must be percent-encoded UTF-8") from None
    refuse_text(text, loc)


def _reject_constant(name: str) -> float:
    raise StrictInputError(("body",), f"JSON number {name} is not allowed (numbers are finite)")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise StrictInputError(("body",), f"JSON number {literal[:40]} is out of range")
    return value


def _strings(value: object, loc: Loc) -> Iterator[tuple[str, Loc]]:
    if isinstance(value, str):
        yield value, loc
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key, loc
            yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def refuse_json_body(body: bytes) -> None:
    """Raise ``StrictInputError`` when a JSON body breaks the rules above.

    A body that is UTF-8 but not JSON at all is left to the route (FastAPI answers its own
    ``json_invalid`` 422), so only strictness is decided here."""
    if not body:
        return
    if body.startswith(b"\xef\xbb\xbf"):
        raise StrictInputError(("body",), "JSON body must be UTF-8 without a byte order mark")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictInputError(("body",), "JSON body must be UTF-8") from None
    if "\x00" in text:
        raise StrictInputError(("body",), "JSON body must be UTF-8 (it holds NUL bytes)")
    try:
        parsed = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:
        if isinstance(exc, StrictInputError):
            raise
        return
    for value, loc in _strings(parsed, ("body",)):
        refuse_text(value, loc)


def _content_type(scope: Scope) -> tuple[str, dict[str, str]]:
    raw = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    media_type, *params = (part.strip() for part in raw.split(";"))
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip().lower()] = value.strip().strip('"').lower()
    return media_type.lower(), options


def _is_json(media_type: str) -> bool:
    if not media_type:
        return True
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == JSON_SUBTYPE or sub.endswith("+" + JSON_SUBTYPE))


def refuse_body(scope: Scope, body: bytes) -> None:
    """Raise when a JSON or form body of this request breaks the rules."""
    media_type, options = _content_type(scope)
    if _is_json(media_type):
        charset = options.get("charset", "utf-8")
        if charset not in {"utf-8", "utf8"}:
            raise StrictInputError(("body",), f"JSON body must be UTF-8, not {charset}")
        refuse_json_body(body)
    elif media_type == FORM_TYPE:
        refuse_url_part(body, ("body",))


def refuse_url(scope: Scope) -> None:
    """Raise when the request's path or query string breaks the rules."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
    refuse_url_part(raw_path, ("path",))
    refuse_text(scope.get("path", ""), ("path",))
    refuse_url_part(scope.get("query_string", b""), ("query",))


def _json_safe(value: object) -> object | None:
    try:
        encoded = jsonable_encoder(value)
        text = json.dumps(encoded, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (TypeError, ValueError):  # UnicodeError is a ValueError
        return None
    return encoded if len(text) <= MAX_ECHOED_INPUT_CHARS else None


def validation_error_body(errors: Sequence[Any]) -> dict[str, Any]:
    """FastAPI's 422 body with every echoed value JSON-safe: ``input`` is kept only when it
    serialises (finite, no NUL or surrogate, short), ``ctx`` values become strings."""
    safe: list[dict[str, Any]] = []
    for error in errors:
        item: dict[str, Any] = {
            "type": str(error.get("type", "value_error")),
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "invalid")),
        }
        if "input" in error:
            echoed = _json_safe(error["input"])
            if echoed is not None:
                item["input"] = echoed
        if isinstance(error.get("ctx"), dict):
            item["ctx"] = {str(k): str(v)[:MAX_ECHOED_INPUT_CHARS] for k, v in error["ctx"].items()}
        safe.append(item)
    return {"detail": safe}


async def validation_error_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    """The app's 422 handler: the standard body, never a 500 for what it echoes."""
    return JSONResponse(validation_error_body(exc.errors()), status_code=422)


def strict_input_response(error: StrictInputError) -> JSONResponse:
    """The 422 answer to refused input."""
    return JSONResponse({"detail": [error.to_error()]}, status_code=422)


class StrictInputMiddleware:
    """Pure ASGI: 422 for a path, query or body that breaks the rules (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            refuse_url(scope)
        except StrictInputError as exc:
            await strict_input_response(exc)(scope, receive, send)
            return
        if scope.get("method") not in BODY_METHODS:
            await self._app(scope, receive, send)
            return
        body, messages = await _read_body(receive)
        try:
            refuse_body(scope, body)
        except StrictInputError as exc:
            await strict_input_response(exc)(scope, receive, send)
            return
        await self._app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    return body, messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def install_strict_input(app: FastAPI) -> None:
    """Strict input on an app: the middleware (add it before the body limit so the limit
    stays outermost) and the JSON-safe 422 handler."""
    app.add_middleware(StrictInputMiddleware)
    app.add_exception_handler(RequestValidationError, validation_error_handler)  # type: ignore[arg-type]
