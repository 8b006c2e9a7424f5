"""`ChannelSpec`: everything the gateway knows about one channel, declared in its package.

Each channel package ``channels/<code>/spec.py`` exports ``SPEC``; `registry` lists them (one per
`ChannelCode`) and everything channel-shaped derives from there: routing tables, the
``GET /v1/channels`` listing, the per-channel settings and their startup validation, dev key
generation, the Kubernetes key mounts check. The neutral facts other services need (kind,
clearing, statements) come from the shared catalogue (`otd_shared.channels`) via ``facts``.
See docs/adding-a-channel.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode, ChannelFacts, ChannelKind
from payment_gateway.adapters.channels.client_base import ChannelClient, ChannelHttp, ClientOptions
from payment_gateway.adapters.channels.contract import ChannelProtocol, NotificationLimits
from payment_gateway.adapters.channels.key_files import ChannelKeySet, KeySpec
from payment_gateway.domain.outcomes import ChannelOutcome

ProtocolFactory = Callable[[ChannelKeySet, NotificationLimits], ChannelProtocol]
ClientFactory = Callable[[ChannelKeySet, ChannelHttp, ClientOptions], ChannelClient]

SETTING_ENABLED: Final = "enabled"
NO_ALIASES: Final[Mapping[str, str]] = MappingProxyType({})
SETTING_BASE_URL: Final = "base_url"


class RefundMatch(StrEnum):
    """How a channel's refund notification names the refund it is about."""

    REFUND_NO = "refund_no"  # our refund number (WeChat out_refund_no, Alipay out_biz_no,
    # UnionPay/Allinpay: the notification is the refund's own, its order number is ours)
    REFUND_NO_OR_PAYMENT_AMOUNT = "refund_no_or_payment_amount"  # Lakala's cashier notice
    # names only the payment: our refund number when given, else the payment's open refund
    # of the notified amount


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """One channel as the gateway sees it.

    * ``methods``: the payment methods it offers; the first is the default.
    * ``startable``: ``POST /v1/payments`` starts it (cash is recorded by the cashier, wire
      arrives from the bank, loan from the lender, discount is drawn by the gateway itself).
    * ``online_limit_fen``: its own single-payment online limit (None: the configured default).
    * ``keys``: ids and key files under ``var/keys/<code>/`` (None: the channel has no keys).
    * ``protocol``: the notification verifier (None: no notifications, e.g. cash).
    * ``client``: the server API client; ``calls_api`` says whether it calls an HTTP API
      (then the channel has a ``<CODE>_BASE_URL`` setting).
    * ``refunds_at_channel``: an offline channel whose client refunds through the acquirer's
      API (UnionPay 退货, Allinpay refund); online channels always do. Others are paid back
      by people (the offline refunds queue).
    * ``payment_statuses``: the channel's order statuses → ours (query answers).
    * ``offline_label``: how routing advice names an offline option a customer may choose
      ("POS card terminal (unionpay)"); empty for online channels, loan and discount.

    Notification quirks, applied by the channel-neutral callback service:
    * ``required_merchant_ids``: ids a notification must carry (and that must be ours);
      others are checked only when present;
    * ``merchant_id_aliases``: received id → our id it must equal when present (Alipay
      ``auth_app_id`` is our ``app_id``: we run no ISV mode);
    * ``cumulative_refunds``: the refund amount notified is the payment's refunded total so
      far (Alipay ``refund_fee``), not this refund's;
    * ``refund_match``: how a refund notification names its refund.
    """

    facts: ChannelFacts
    methods: tuple[str, ...]
    startable: bool
    online_limit_fen: int | None = None
    keys: KeySpec | None = None
    protocol: ProtocolFactory | None = None
    client: ClientFactory | None = None
    calls_api: bool = False
    refunds_at_channel: bool = False
    payment_statuses: Mapping[str, ChannelOutcome] = field(
        default_factory=lambda: MappingProxyType({})
    )
    offline_label: str = ""
    required_merchant_ids: tuple[str, ...] = ()
    merchant_id_aliases: Mapping[str, str] = field(default_factory=lambda: NO_ALIASES)
    cumulative_refunds: bool = False
    refund_match: RefundMatch = RefundMatch.REFUND_NO

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError(f"{self.code}: a channel offers at least one method")
        if self.online_limit_fen is not None and (not self.online or self.online_limit_fen <= 0):
            raise ValueError(f"{self.code}: only online channels have a positive online limit")
        if (self.protocol is not None or self.client is not None) and self.keys is None:
            raise ValueError(f"{self.code}: a verifier or client needs the channel's keys")
        if self.startable and self.client is None:
            raise ValueError(f"{self.code}: a startable channel needs a client")
        if self.online and self.offline_label:
            raise ValueError(f"{self.code}: only offline channels are offered as offline options")

    @property
    def code(self) -> ChannelCode:
        """The channel code."""
        return self.facts.code

    @property
    def default_method(self) -> str:
        """The method used when a payment names none."""
        return self.methods[0]

    @property
    def online(self) -> bool:
        """App, QR or web, as opposed to a terminal, the counter, the bank or a lender."""
        return self.facts.online

    @property
    def refunds_through_api(self) -> bool:
        """Refunds are sent to the channel (else: ``manual``, the offline refunds queue)."""
        return self.online or self.refunds_at_channel

    @property
    def pos(self) -> bool:
        """Paid on an acquirer's terminal in the store."""
        return self.facts.kind is ChannelKind.POS

    @property
    def settings(self) -> tuple[str, ...]:
        """The per-channel settings it takes (``<CODE>_ENABLED``, ``<CODE>_BASE_URL``)."""
        return (SETTING_ENABLED, SETTING_BASE_URL) if self.calls_api else (SETTING_ENABLED,)

    def env_name(self, setting: str) -> str:
        """The environment variable of one of its settings: ``WECHATPAY_ENABLED``."""
        return f"{self.code.upper()}_{setting.upper()}"

    @property
    def ledger_accounts(self) -> tuple[str, ...]:
        """The ledger accounts it needs (opened by ledger-service from the catalogue)."""
        if not self.facts.clearing:
            return ()
        return (f"clearing:{self.code}", f"fees:{self.code}")

    @property
    def statement_source(self) -> bool:
        """recon-service loads its daily statement (its parser is keyed by the code)."""
        return self.facts.statement
