"""Fixtures of the recon-service unit tests: parse a statement held in bytes."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest

from recon_service.adapters.statements import ParseContext, parse_statement
from recon_service.domain import Source, StatementLimits, StatementLine

Parse = Callable[..., list[StatementLine]]


@pytest.fixture
def parse() -> Parse:
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
        lines = list(parse_statement(io.BytesIO(data), ctx))
        assert all(line.statement_date == ctx.statement_date for line in lines)
        return lines

    return run
