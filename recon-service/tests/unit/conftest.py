"""Fixtures of the recon-service unit tests: parse a statement held in bytes, by the per-line
parser and as an upload does (the source's bulk path, falling back to the per-line parser):
every parser test holds for both."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest

from recon_service.adapters.statements import ParseContext, parse_statement
from recon_service.domain import Source, StatementLimits, StatementLine
from recon_service.testing.bulk import parse_as_upload

Parse = Callable[..., list[StatementLine]]


@pytest.fixture(params=["per-line", "as-upload"])
def parse(request: pytest.FixtureRequest) -> Parse:
    """parse(source, data, *, given_date=None, filename=None, limits=None) -> lines."""

    def run(
        source: str,
        data: bytes,
        *,
        given_date: date | None = None,
        filename: str | None = None,
        limits: StatementLimits | None = None,
    ) -> list[StatementLine]:
        ctx = ParseContext(
            Source(source), limits or StatementLimits(), filename=filename, given_date=given_date
        )
        if request.param == "as-upload":
            ctx.packed_bytes = len(data)
            lines = parse_as_upload(io.BytesIO(data), ctx)
        else:
            lines = list(parse_statement(io.BytesIO(data), ctx))
        assert all(line.statement_date == ctx.statement_date for line in lines)
        return lines

    return run
