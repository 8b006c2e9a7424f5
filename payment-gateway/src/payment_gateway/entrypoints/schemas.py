"""API bodies of payment-gateway (pydantic; not rows). Money is integer fen."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from otd_shared.channels import ChannelCode, ChannelKind
from payment_gateway.domain.payment import Payment
from payment_gateway.domain.refund import REFUND_REASON_LEN_MAX, Refund
from payment_gateway.service_layer.discount_cashier import PaymentDiscount

PositiveFen = Annotated[int, Field(strict=True, gt=0, le=10**12)]


class StartPaymentBody(BaseModel):
    """Pay (part of) a billing with a channel and, optionally, a method."""

    model_config = ConfigDict(extra="forbid")

    billing_id: uuid.UUID
    channel: ChannelCode
    amount_fen: PositiveFen
    method: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None,
        description="Default per channel: app (wechatpay, alipay), app_quick_pay "
        "(lakala), pos_order_qr (unionpay, allinpay).",
    )
    description: Annotated[str, Field(min_length=1, max_length=127)] | None = None
    store_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The store the customer buys through; activities with per-store caps "
        "only discount payments that name one of their stores.",
    )
    apply_discount: StrictBool = Field(
        default=True,
        description="Draw a random instant discount when a running activity covers the "
        "payment (the payment is then created for amount_fen minus the discount).",
    )


class DiscountOut(BaseModel):
    """The random instant discount drawn for a payment (paid by the marketing budget)."""

    activity_id: uuid.UUID
    activity_name: str
    discount_fen: int
    discount_payment_id: uuid.UUID
    status: str

    @classmethod
    def of(cls, d: PaymentDiscount) -> DiscountOut:
        """From the draw."""
        return cls(
            activity_id=d.draw.activity_id,
            activity_name=d.activity_name,
            discount_fen=d.draw.amount_fen,
            discount_payment_id=d.draw.discount_payment_id,
            status=d.draw.status.value,
        )


class PaymentOut(BaseModel):
    """A payment and what the app or terminal needs to pay it (``pay_params``)."""

    payment_id: uuid.UUID
    out_trade_no: str
    billing_id: uuid.UUID
    order_id: uuid.UUID
    stage: str
    channel: ChannelCode
    method: str
    amount_fen: int
    currency: str
    status: str
    pay_params: dict[str, str]
    channel_txn_id: str | None
    fee_fen: int | None
    refunded_fen: int
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    requested_amount_fen: int = Field(
        description="What the caller asked to pay: amount_fen (charged by the channel) plus "
        "discount_fen (paid by the marketing budget)."
    )
    discount_fen: int = 0
    discount: DiscountOut | None = None

    @classmethod
    def of(cls, p: Payment, discount: PaymentDiscount | None = None) -> PaymentOut:
        """From the domain record and the discount drawn for it."""
        discount_fen = discount.draw.amount_fen if discount is not None else 0
        return cls(
            requested_amount_fen=p.amount_fen + discount_fen,
            discount_fen=discount_fen,
            discount=DiscountOut.of(discount) if discount is not None else None,
            payment_id=p.payment_id,
            out_trade_no=p.out_trade_no,
            billing_id=p.billing_id,
            order_id=p.order_id,
            stage=p.stage,
            channel=p.channel,
            method=p.method,
            amount_fen=p.amount_fen,
            currency=p.currency,
            status=p.status.value,
            pay_params=dict(p.pay_params),
            channel_txn_id=p.channel_txn_id,
            fee_fen=p.fee_fen,
            refunded_fen=p.refunded_fen,
            failure_code=p.failure_code,
            failure_message=p.failure_message,
            created_at=p.created_at,
            expires_at=p.expires_at,
            completed_at=p.completed_at,
        )


class RefundBody(BaseModel):
    """Refund part of a payment (``amount_fen``) or what is left of it (omitted)."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: PositiveFen | None = None
    reason: Annotated[str, Field(min_length=1, max_length=REFUND_REASON_LEN_MAX)]


class RefundOut(BaseModel):
    """A refund record."""

    refund_id: uuid.UUID
    out_refund_no: str
    payment_id: uuid.UUID | None
    billing_id: uuid.UUID
    order_id: uuid.UUID
    channel: ChannelCode
    amount_fen: int
    reason: str
    status: str
    refund_request_id: str | None
    channel_refund_id: str | None
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, r: Refund) -> RefundOut:
        """From the domain record."""
        return cls(
            refund_id=r.refund_id,
            out_refund_no=r.out_refund_no,
            payment_id=r.payment_id,
            billing_id=r.billing_id,
            order_id=r.order_id,
            channel=r.channel,
            amount_fen=r.amount_fen,
            reason=r.reason,
            status=r.status.value,
            refund_request_id=r.refund_request_id,
            channel_refund_id=r.channel_refund_id,
            failure_reason=r.failure_reason,
            created_at=r.created_at,
            completed_at=r.completed_at,
        )


class ChannelOut(BaseModel):
    """A channel of the registry: what it is, its switch, health and limit."""

    channel: ChannelCode
    kind: ChannelKind
    online: bool
    startable: bool = Field(description="POST /v1/payments starts it (cash, wire, loan: not).")
    enabled: bool
    health: str
    consecutive_failures: int
    retry_in_s: float
    methods: list[str]
    default_method: str
    online_limit_fen: int | None
    notifications: bool = Field(description="POST /callbacks/<channel> accepts its notices.")
    statement_source: bool = Field(description="recon-service loads its daily statement.")
    ledger_accounts: list[str] = Field(description="Its clearing and fee accounts, if any.")


CorrectionText = Annotated[str, Field(min_length=1, max_length=200)]
CorrectionId = Annotated[str, Field(min_length=1, max_length=64)]


class CorrectionBody(BaseModel):
    """The channel's figure for one reconciliation discrepancy of this payment."""

    model_config = ConfigDict(extra="forbid")

    adjustment_id: CorrectionId
    discrepancy_id: CorrectionId
    source: ChannelCode
    channel_status: Literal["succeeded"] = "succeeded"
    channel_amount_fen: PositiveFen
    adjustment_fen: Annotated[int, Field(strict=True, ge=-(10**12), le=10**12)]
    """What the customer paid us more (+) or less (−) by the correction: recon's adjustment."""
    channel_txn_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    channel_completed_at: datetime | None = None
    """The channel's time of the payment (the statement line): the payment's completion
    time when it had none (a payment we held as paying)."""
    reason: CorrectionText
    requested_by: CorrectionText
    approved_by: CorrectionText | None = None
    refund_id: uuid.UUID | None = None
    """Correct this refund of the payment (the channel refunded ``channel_amount_fen``)."""


class CorrectionOut(BaseModel):
    """A payment correction (append-only)."""

    correction_id: uuid.UUID
    adjustment_id: str
    discrepancy_id: str
    payment_id: uuid.UUID
    refund_id: uuid.UUID | None
    source: str
    before: dict[str, Any]
    after: dict[str, Any]
    delta_fen: int
    reason: str
    requested_by: str
    approved_by: str | None
    recorded_by: str
    created_at: datetime
    created: bool

    @classmethod
    def of(cls, row: Mapping[str, Any], *, created: bool) -> CorrectionOut:
        return cls(**{k: row[k] for k in cls.model_fields if k != "created"}, created=created)
