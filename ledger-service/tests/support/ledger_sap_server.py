"""A real HTTP server playing SAP for the ledger's HTTP connector (uvicorn on a free port).

It books a document once per reference (a re-send answers the first document number), and
rejects documents that use a blocked G/L account, with the reason, booking nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from otd_shared.infra import free_port
from otd_shared.testing.cluster import eventually

SERVER_START_TIMEOUT_S = 10.0


@dataclass
class SapBooks:
    """What the SAP side booked and saw."""

    blocked_gl_accounts: set[str] = field(default_factory=set)
    booked: dict[str, dict[str, object]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        """The SAP endpoint: POST /sap/documents, GET /sap/documents/{reference}."""
        return Starlette(
            routes=[
                Route("/sap/documents", self._post, methods=["POST"]),
                Route("/sap/documents/{reference}", self._get, methods=["GET"]),
            ]
        )

    async def _post(self, request: Request) -> JSONResponse:
        document = await request.json()
        reference = str(document["reference"])
        self.received.append(reference)
        if reference in self.booked:
            number = self.numbers[reference]
            return JSONResponse({"status": "acknowledged", "sap_document_no": number})
        blocked = sorted(
            {str(line["gl_account"]) for line in document["lines"]} & self.blocked_gl_accounts
        )
        if blocked:
            reason = f"G/L account {blocked[0]} is blocked for posting"
            return JSONResponse({"status": "rejected", "reason": reason}, status_code=422)
        number = str(5_100_000_000 + len(self.booked))
        self.booked[reference] = document
        self.numbers[reference] = number
        return JSONResponse({"status": "acknowledged", "sap_document_no": number})

    async def _get(self, request: Request) -> JSONResponse:
        reference = request.path_params["reference"]
        if reference not in self.booked:
            return JSONResponse({"status": "error", "reason": "no such document"}, 404)
        return JSONResponse({"status": "acknowledged", "sap_document_no": self.numbers[reference]})


@asynccontextmanager
async def sap_server(books: SapBooks) -> AsyncIterator[str]:
    """Serve `books` on a free loopback port; yields the base URL of the SAP endpoint."""
    port = free_port()
    config = uvicorn.Config(
        books.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            return bool(server.started)

        await eventually(started, timeout_s=SERVER_START_TIMEOUT_S, interval_s=0.02)
        yield f"http://127.0.0.1:{port}/sap"
    finally:
        server.should_exit = True
        await task
