"""Payload classes of every event, one pydantic v2 model each.

Each class docstring says who emits it and when. Money is always ``*_fen`` integers.
Fields may grow (add optional fields, bump nothing); renaming or retyping a field
needs a new ``schema_version``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Fen = Annotated[int, Field(strict=True)]
NonNegativeFen = Annotated[int, Field(strict=True, ge=0)]
PositiveFen = Annotated[int, Field(strict=True, gt=0)]
ChannelCode = Literal[
    "wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire", "loan"
]
BillingStage = Literal["intent", "firm", "final", "service"]
ReconSource = Literal["wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- order-service -----------------------------------------------------------------


class OrderCreated(_Payload):
    """order-service, when a vehicle order (or a post-delivery service order) is created."""

    event_type: Literal["OrderCreated"] = "OrderCreated"
    order_id: str
    customer_id: str
    order_kind: Literal["vehicle", "service"] = "vehicle"
    vehicle_model: str
    price_fen: PositiveFen
    loan_fen: NonNegativeFen = 0
    charging_pile: bool = False


class OrderRepriced(_Payload):
    """order-service, when the configuration changes before lock and the price moves."""

    event_type: Literal["OrderRepriced"] = "OrderRepriced"
    order_id: str
    vehicle_model: str
    price_fen: PositiveFen
    loan_fen: NonNegativeFen = 0


class OrderLocked(_Payload):
    """order-service, when the customer locks the configuration (firm deposit falls due)."""

    event_type: Literal["OrderLocked"] = "OrderLocked"
    order_id: str
    locked_at: datetime


class OrderCancelled(_Payload):
    """order-service, when a vehicle order is cancelled (only before lock)."""

    event_type: Literal["OrderCancelled"] = "OrderCancelled"
    order_id: str
    reason: str
    was_locked: bool = False


class ProductionScheduled(_Payload):
    """order-service, when the production order is scheduled (after the firm deposit)."""

    event_type: Literal["ProductionScheduled"] = "ProductionScheduled"
    order_id: str
    production_order_id: str


class VehicleReadyForDelivery(_Payload):
    """order-service, when the car reaches the delivery centre (final payment falls due)."""

    event_type: Literal["VehicleReadyForDelivery"] = "VehicleReadyForDelivery"
    order_id: str
    delivery_centre: str | None = None


class OrderDelivered(_Payload):
    """order-service, when the car is handed over (deposits become revenue)."""

    event_type: Literal["OrderDelivered"] = "OrderDelivered"
    order_id: str
    delivered_at: datetime


class LoanApproved(_Payload):
    """order-service, when the bank approves the car loan with a principal."""

    event_type: Literal["LoanApproved"] = "LoanApproved"
    order_id: str
    loan_order_id: str
    principal_fen: PositiveFen


class LoanRejected(_Payload):
    """order-service, when the bank rejects the loan; its share becomes self-pay."""

    event_type: Literal["LoanRejected"] = "LoanRejected"
    order_id: str
    loan_order_id: str
    reason: str


class LoanDisbursed(_Payload):
    """order-service, when the bank's disbursement notice arrives (counts toward final)."""

    event_type: Literal["LoanDisbursed"] = "LoanDisbursed"
    order_id: str
    loan_order_id: str
    amount_fen: PositiveFen
    bank_reference: str


# --- billing-service ---------------------------------------------------------------


class FundOrderOpened(_Payload):
    """billing-service, when the fund order and its billings exist for a new order."""

    event_type: Literal["FundOrderOpened"] = "FundOrderOpened"
    order_id: str
    fund_order_id: str
    customer_id: str
    price_fen: PositiveFen


class BillingDue(_Payload):
    """billing-service, when a billing falls due.

    Intent at order creation, firm at lock, final when the car is ready for delivery.
    """

    event_type: Literal["BillingDue"] = "BillingDue"
    order_id: str
    billing_id: str
    customer_id: str
    stage: BillingStage
    amount_fen: PositiveFen
    outstanding_fen: NonNegativeFen
    due_at: datetime


class BillingPaid(_Payload):
    """billing-service, when the sum of a billing's payments reaches its amount."""

    event_type: Literal["BillingPaid"] = "BillingPaid"
    order_id: str
    billing_id: str
    stage: BillingStage
    amount_fen: PositiveFen
    paid_fen: NonNegativeFen


class BillingOverpaid(_Payload):
    """billing-service, when payments exceed a billing: the excess is a credit owed back."""

    event_type: Literal["BillingOverpaid"] = "BillingOverpaid"
    order_id: str
    billing_id: str
    stage: BillingStage
    overpaid_fen: PositiveFen
    payment_id: str | None = None


class RefundRequested(_Payload):
    """billing-service, when money must go back to the customer (cancel, overpayment)."""

    event_type: Literal["RefundRequested"] = "RefundRequested"
    order_id: str
    billing_id: str
    refund_request_id: str
    amount_fen: PositiveFen
    reason: str
    payment_id: str | None = None
    channel: ChannelCode | None = None


# --- payment-gateway ---------------------------------------------------------------


class PaymentCallback(_Payload):
    """payment-gateway, for every VERIFIED payment outcome (notification, query, POS, cash, wire).

    Never emitted for a synchronous channel answer alone.
    """

    event_type: Literal["PaymentCallback"] = "PaymentCallback"
    order_id: str
    billing_id: str
    payment_id: str
    channel: ChannelCode
    method: str
    outcome: Literal["succeeded", "failed", "refunded"]
    out_trade_no: str
    channel_txn_id: str | None = None
    amount_fen: NonNegativeFen
    fee_fen: Fen | None = None
    refund_id: str | None = None
    store_id: str | None = None
    completed_at: datetime


class WireReceived(_Payload):
    """payment-gateway, when a bank transfer arrives (matched to a billing, or queued to claim)."""

    event_type: Literal["WireReceived"] = "WireReceived"
    wire_id: str
    bank_account: str
    payer_name: str | None = None
    payer_account_last4: str
    amount_fen: PositiveFen
    matched_order_id: str | None = None
    matched_billing_id: str | None = None
    received_at: datetime


class WireClaimed(_Payload):
    """payment-gateway, when a cashier confirms an unmatched wire against a billing."""

    event_type: Literal["WireClaimed"] = "WireClaimed"
    wire_id: str
    order_id: str
    billing_id: str
    amount_fen: PositiveFen
    claimed_by: str


# --- recon-service -----------------------------------------------------------------


class StatementLoaded(_Payload):
    """recon-service, when a statement file of one source and business day is loaded."""

    event_type: Literal["StatementLoaded"] = "StatementLoaded"
    statement_id: str
    source: ReconSource
    statement_date: date
    lines: NonNegativeFen
    total_amount_fen: Fen
    total_fee_fen: Fen = 0


class ReconCompleted(_Payload):
    """recon-service, when a reconciliation run of one source and day finishes."""

    event_type: Literal["ReconCompleted"] = "ReconCompleted"
    run_id: str
    source: ReconSource
    recon_date: date
    counts: dict[str, int]
    settled_fen: Fen = 0
    fee_fen: Fen = 0


class DiscrepancyResolved(_Payload):
    """recon-service, when an adjustment (调差) resolving a discrepancy is approved."""

    event_type: Literal["DiscrepancyResolved"] = "DiscrepancyResolved"
    discrepancy_id: str
    source: ReconSource
    kind: str
    adjustment_fen: Fen
    order_id: str | None = None
    resolved_by: str
    approved_by: str | None = None
    reason: str


# --- ledger-service ----------------------------------------------------------------


class JournalPosted(_Payload):
    """ledger-service, when a journal is posted (and when its SAP document is acknowledged)."""

    event_type: Literal["JournalPosted"] = "JournalPosted"
    journal_id: str
    source_id: str
    business_date: date
    total_debit_fen: NonNegativeFen
    order_id: str | None = None
    sap_document_ref: str | None = None


EventPayload = (
    OrderCreated
    | OrderRepriced
    | OrderLocked
    | OrderCancelled
    | ProductionScheduled
    | VehicleReadyForDelivery
    | OrderDelivered
    | LoanApproved
    | LoanRejected
    | LoanDisbursed
    | FundOrderOpened
    | BillingDue
    | BillingPaid
    | BillingOverpaid
    | RefundRequested
    | PaymentCallback
    | WireReceived
    | WireClaimed
    | StatementLoaded
    | ReconCompleted
    | DiscrepancyResolved
    | JournalPosted
)

__all__ = [
    "BillingDue",
    "BillingOverpaid",
    "BillingPaid",
    "BillingStage",
    "ChannelCode",
    "DiscrepancyResolved",
    "EventPayload",
    "FundOrderOpened",
    "JournalPosted",
    "LoanApproved",
    "LoanDisbursed",
    "LoanRejected",
    "OrderCancelled",
    "OrderCreated",
    "OrderDelivered",
    "OrderLocked",
    "OrderRepriced",
    "PaymentCallback",
    "ProductionScheduled",
    "ReconCompleted",
    "ReconSource",
    "RefundRequested",
    "StatementLoaded",
    "VehicleReadyForDelivery",
    "WireClaimed",
    "WireReceived",
]
