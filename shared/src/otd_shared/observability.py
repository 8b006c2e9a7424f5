"""JSON logging with a correlation id, and Prometheus metrics.

The correlation id travels HTTP request (``X-Correlation-ID``) → outbox envelope →
consumer (which sets it again from the envelope), so one id follows a payment
across services in the logs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response

CORRELATION_HEADER = "X-Correlation-ID"
MAX_CORRELATION_ID_CHARS = 128
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str:
    """The correlation id of the current request or event, or a fresh one."""
    value = _correlation_id.get()
    if value is None:
        value = uuid.uuid4().hex
        _correlation_id.set(value)
    return value


def set_correlation_id(value: str | None) -> None:
    """Bind a correlation id to the current task (None clears it)."""
    _correlation_id.set(value[:MAX_CORRELATION_ID_CHARS] if value else None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, extras."""

    _RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation = _correlation_id.get()
        if correlation:
            entry["correlation_id"] = correlation
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Configure the root logger once per process."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


class ServiceMetrics:
    """The metrics every service exposes, in the service's own registry."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "outbox_published_total", "Events published by the relay", registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Unsent outbox rows seen by the relay", registry=self.registry
        )
        self.events_consumed = Counter(
            "events_consumed_total",
            "Events handled",
            ["consumer", "result"],
            registry=self.registry,
        )
        self.broker_loss_alerts = Counter(
            "broker_loss_alerts_total",
            "Broker losses the watch only reported (BROKER_LOSS_ACTION=alert)",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "dead_letters_total",
            "Events parked in the dead-letter table",
            ["consumer"],
            registry=self.registry,
        )


Endpoint = Callable[[Request], Awaitable[Response]]


def http_middleware(metrics: ServiceMetrics) -> Callable[[Request, Endpoint], Awaitable[Response]]:
    """Starlette middleware: bind the correlation id, time and count the request."""

    async def middleware(request: Request, call_next: Endpoint) -> Response:
        set_correlation_id(request.headers.get(CORRELATION_HEADER) or uuid.uuid4().hex)
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        route_path = getattr(route, "path", "unmatched")
        metrics.http_requests.labels(request.method, route_path, str(response.status_code)).inc()
        metrics.http_latency.labels(request.method, route_path).observe(
            time.perf_counter() - started
        )
        response.headers[CORRELATION_HEADER] = current_correlation_id()
        return response

    return middleware
