"""Statement parsers, one module per source, and their registry (one line per source).

``parse_statement(stream, ctx)`` streams the normalised lines of one file; see ``base`` for the
contract every parser keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import BinaryIO, Final

from recon_service.adapters.statements import (
    alipay,
    allinpay,
    cash,
    lakala,
    unionpay,
    wechatpay,
    wire,
)
from recon_service.adapters.statements.base import ParseContext
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


def parse_statement(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The lines of one statement file of ``ctx.source`` (a generator: nothing is read until
    it is iterated)."""
    return PARSERS[ctx.source](stream, ctx)


__all__ = ["PARSERS", "ParseContext", "Parser", "parse_statement"]
