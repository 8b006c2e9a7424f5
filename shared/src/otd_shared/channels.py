"""The channel catalogue of the cluster: every channel code, and the neutral facts about it.

`ChannelCode` is the one list of channel codes used in events, APIs and statements
(docs/channel-formats.md). `CATALOGUE` holds, per channel, only what services other than the
payment gateway need to know about it, and no domain logic:

* ``kind``: how the money arrives (online wallet or aggregator, POS acquirer, store counter,
  bank transfer, lender, marketing budget); ``online`` is derived from it;
* ``clearing``: the money sits with a third party until it settles into our bank, so the
  ledger keeps ``clearing:<code>`` and ``fees:<code>`` accounts for it;
* ``statement``: recon-service loads a daily statement of this channel (it is a recon source).

The payment gateway's `ChannelSpec` (one package per channel under
``payment_gateway/adapters/channels/<code>/``) carries the rest: methods, keys, settings,
verifier, client. Adding a channel adds one member here and one `CATALOGUE` entry; the ledger's
accounts, recon's source list and its CHECK constraint follow (docs/adding-a-channel.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class PayoutVia(StrEnum):
    """Where a refund's money left (PaymentCallback ``payout_via``): the channel returned it,
    or we paid it out by hand from our bank account or a store's till."""

    CHANNEL = "channel"
    BANK_TRANSFER = "bank_transfer"
    TILL = "till"


class ChannelCode(StrEnum):
    """A channel code (docs/channel-formats.md §0)."""

    WECHATPAY = "wechatpay"
    ALIPAY = "alipay"
    LAKALA = "lakala"
    UNIONPAY = "unionpay"
    ALLINPAY = "allinpay"
    CASH = "cash"
    WIRE = "wire"
    LOAN = "loan"
    DISCOUNT = "discount"


class ChannelKind(StrEnum):
    """How the money of a channel arrives."""

    ONLINE = "online"  # app, QR or web payment at a wallet or an aggregator
    POS = "pos"  # card or code payment on an acquirer's terminal in the store
    COUNTER = "counter"  # cash at the store cashier
    BANK = "bank"  # bank transfer straight into our account
    LENDER = "lender"  # loan principal paid by a lender
    MARKETING = "marketing"  # instant discount funded by a marketing budget


@dataclass(frozen=True, kw_only=True)
class ChannelFacts:
    """What every service may know about one channel (no gateway internals)."""

    code: ChannelCode
    kind: ChannelKind
    clearing: bool
    statement: bool

    def __post_init__(self) -> None:
        if self.clearing and self.kind not in (ChannelKind.ONLINE, ChannelKind.POS):
            raise ValueError(f"{self.code}: only online and POS channels settle via clearing")

    @property
    def online(self) -> bool:
        """Paid in an app, by QR or on the web (as opposed to a terminal, counter or bank)."""
        return self.kind is ChannelKind.ONLINE


Catalogue = Mapping[ChannelCode, ChannelFacts]


def _catalogue(*entries: ChannelFacts) -> Catalogue:
    by_code = {entry.code: entry for entry in entries}
    if len(by_code) != len(entries):
        raise ValueError("a channel code is listed twice in the catalogue")
    return MappingProxyType(by_code)


_ONLINE, _POS = ChannelKind.ONLINE, ChannelKind.POS
# One line per channel; declaration order is the fixed processing order (recon, listings).
CATALOGUE: Final[Catalogue] = _catalogue(
    ChannelFacts(code=ChannelCode.WECHATPAY, kind=_ONLINE, clearing=True, statement=True),
    ChannelFacts(code=ChannelCode.ALIPAY, kind=_ONLINE, clearing=True, statement=True),
    ChannelFacts(code=ChannelCode.LAKALA, kind=_ONLINE, clearing=True, statement=True),
    ChannelFacts(code=ChannelCode.UNIONPAY, kind=_POS, clearing=True, statement=True),
    ChannelFacts(code=ChannelCode.ALLINPAY, kind=_POS, clearing=True, statement=True),
    ChannelFacts(code=ChannelCode.CASH, kind=ChannelKind.COUNTER, clearing=False, statement=True),
    ChannelFacts(code=ChannelCode.WIRE, kind=ChannelKind.BANK, clearing=False, statement=True),
    ChannelFacts(code=ChannelCode.LOAN, kind=ChannelKind.LENDER, clearing=False, statement=False),
    ChannelFacts(
        code=ChannelCode.DISCOUNT, kind=ChannelKind.MARKETING, clearing=False, statement=False
    ),
)
if set(CATALOGUE) != set(ChannelCode):
    raise RuntimeError("every ChannelCode has exactly one catalogue entry")


def facts_of(code: ChannelCode, catalogue: Catalogue = CATALOGUE) -> ChannelFacts:
    """The catalogue entry of `code` (KeyError for a code the catalogue lacks)."""
    return catalogue[code]


def clearing_channels(catalogue: Catalogue = CATALOGUE) -> tuple[ChannelCode, ...]:
    """Channels whose money sits with a third party until settlement, in catalogue order."""
    return tuple(code for code, facts in catalogue.items() if facts.clearing)


def statement_sources(catalogue: Catalogue = CATALOGUE) -> tuple[ChannelCode, ...]:
    """Channels recon-service loads statements of, in the fixed processing order."""
    return tuple(code for code, facts in catalogue.items() if facts.statement)


def online_channels(catalogue: Catalogue = CATALOGUE) -> tuple[ChannelCode, ...]:
    """Online channels (app, QR, web), in catalogue order."""
    return tuple(code for code, facts in catalogue.items() if facts.online)


def sql_in_list(codes: Iterable[ChannelCode]) -> str:
    """``('wechatpay','alipay',...)`` for a CHECK constraint (codes are [a-z] words only)."""
    words = [str(code) for code in codes]
    for word in words:
        if not word.isascii() or not word.isalpha() or not word.islower():
            raise ValueError(f"channel code {word!r} is not a plain lower-case word")
    return "(" + ",".join(f"'{word}'" for word in words) + ")"


def parse_channel(value: str) -> ChannelCode:
    """`value` as a ChannelCode; ValueError naming the known codes otherwise."""
    try:
        return ChannelCode(value)
    except ValueError:
        known = ", ".join(ChannelCode)
        raise ValueError(f"unknown channel code {value!r}; known: {known}") from None


__all__ = [
    "CATALOGUE",
    "Catalogue",
    "ChannelCode",
    "ChannelFacts",
    "ChannelKind",
    "clearing_channels",
    "facts_of",
    "online_channels",
    "parse_channel",
    "sql_in_list",
    "statement_sources",
]
