"""The statement source named in a path or a query: a channel of the catalogue with
statements (otd_shared.channels), else 422 ``unknown_source`` — the lender and marketing
channels (``loan``, ``discount``) have no statements and are refused like unknown names."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Path, Query

from recon_service.domain.statement import Source, sources_in_processing_order, statement_source

SOURCE_MAX_CHARS: Final = 32
SOURCE_HELP: Final = "A statement source: " + ", ".join(
    str(s) for s in sources_in_processing_order()
)


async def _source_in_path(
    source: Annotated[str, Path(max_length=SOURCE_MAX_CHARS, description=SOURCE_HELP)],
) -> Source:
    return statement_source(source)


async def _source_in_query(
    source: Annotated[
        str | None, Query(max_length=SOURCE_MAX_CHARS, description=SOURCE_HELP)
    ] = None,
) -> Source | None:
    return None if source is None else statement_source(source)


SourcePath = Annotated[Source, Depends(_source_in_path)]
SourceQuery = Annotated[Source | None, Depends(_source_in_query)]
