"""Statement parsers, one module per source, and their registry (one line per source).

``parse_statement(stream, ctx)`` streams the normalised lines of one file; see ``base`` for the
contract every parser keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import BinaryIO, Final

from recon_service.adapters.statements import (
    alipay,
    alipay_bulk,
    allinpay,
    allinpay_bulk,
    cash,
    cash_bulk,
    lakala,
    lakala_bulk,
    unionpay,
    unionpay_bulk,
    wechatpay,
    wechatpay_bulk,
    wire,
    wire_bulk,
)
from recon_service.adapters.statements.base import ParseContext
from recon_service.adapters.statements.bulk import BulkBlock, Fallback
from recon_service.domain.statement import Source, StatementLine, sources_in_processing_order

Parser = Callable[[BinaryIO, ParseContext], Iterator[StatementLine]]

PARSERS: Final[Mapping[Source, Parser]] = MappingProxyType(
    {
        Source.WECHATPAY: wechatpay.parse,
        Source.ALIPAY: alipay.parse,
        Source.LAKALA: lakala.parse,
        Source.UNIONPAY: unionpay.parse,
        Source.ALLINPAY: allinpay.parse,
        Source.CASH: cash.parse,
        Source.WIRE: wire.parse,
    }
)
assert set(PARSERS) == set(sources_in_processing_order()), "every source has a parser"

BulkParser = Callable[[BinaryIO, uuid.UUID, ParseContext], Iterator[BulkBlock]]

# Sources with a bulk path (``bulk``): ordinary files as COPY text, anything else a Fallback.
BULK_PARSERS: Final[Mapping[Source, BulkParser]] = MappingProxyType(
    {
        Source.WECHATPAY: wechatpay_bulk.parse,
        Source.ALIPAY: alipay_bulk.parse,
        Source.LAKALA: lakala_bulk.parse,
        Source.UNIONPAY: unionpay_bulk.parse,
        Source.ALLINPAY: allinpay_bulk.parse,
        Source.CASH: cash_bulk.parse,
        Source.WIRE: wire_bulk.parse,
    }
)


def parse_statement(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The lines of one statement file of ``ctx.source`` (a generator: nothing is read until
    it is iterated)."""
    return PARSERS[ctx.source](stream, ctx)


def bulk_parser(source: Source) -> BulkParser | None:
    """The source's bulk path, if it has one."""
    return BULK_PARSERS.get(source)


__all__ = [
    "BULK_PARSERS",
    "BulkBlock",
    "BulkParser",
    "Fallback",
    "ParseContext",
    "Parser",
    "bulk_parser",
    "parse_statement",
]
