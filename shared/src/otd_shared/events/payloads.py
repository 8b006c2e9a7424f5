"""Payload classes of every event, one pydantic v2 model each.

Each class docstring says who emits it and when. Money is always ``*_fen`` integers.
Fields may grow (add optional fields, bump nothing); renaming or retyping a field
needs a new ``schema_version``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from otd_shared.channels import ChannelCode, PayoutVia, statement_sources

Fen = Annotated[int, Field(strict=True)]
NonNegativeFen = Annotated[int, Field(strict=True, ge=0)]
PositiveFen = Annotated[int, Field(strict=True, gt=0)]
StatementVersion = Annotated[int, Field(strict=True, ge=1)]
BillingStage = Literal["intent", "firm", "final", "service", "installment", "payoff"]


def _statement_source(code: ChannelCode) -> ChannelCode:
    if code not in statement_sources():
        raise ValueError(
            f"{code} has no statements (recon sources: {', '.join(statement_sources())})"
        )
    return code


# A channel recon-service loads statements of (otd_shared.channels.statement_sources).
ReconSource = Annotated[ChannelCode, AfterValidator(_statement_source)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeaseInstallment(_Payload):
    """One installment of a lease schedule: its number (1…), due date (Asia/Shanghai) and amount."""

    number: Annotated[int, Field(strict=True, ge=1)]
    due_date: date
    amount_fen: PositiveFen


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
    options: list[str] = Field(default_factory=list)
    fund_order_id: str | None = None
    parent_order_id: str | None = None
    service_kind: str | None = None
    # A leasing service order's schedule (sums to price_fen); empty for every other order.
    lease_installments: tuple[LeaseInstallment, ...] = ()


class OrderRepriced(_Payload):
    """order-service, when the configuration changes before lock and the price moves."""

    event_type: Literal["OrderRepriced"] = "OrderRepriced"
    order_id: str
    vehicle_model: str
    price_fen: PositiveFen
    loan_fen: NonNegativeFen = 0
    options: list[str] = Field(default_factory=list)
    previous_price_fen: PositiveFen | None = None


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
    cancelled_by: str | None = None
    previous_status: str | None = None


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
    production_order_id: str | None = None
    vin: str | None = None


class OrderDelivered(_Payload):
    """order-service, when the car is handed over (deposits become revenue)."""

    event_type: Literal["OrderDelivered"] = "OrderDelivered"
    order_id: str
    delivered_at: datetime
    customer_id: str | None = None
    price_fen: PositiveFen | None = None
    vin: str | None = None


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
    requested_fen: NonNegativeFen | None = None


class LoanDisbursed(_Payload):
    """order-service, when the bank's disbursement notice arrives (counts toward final)."""

    event_type: Literal["LoanDisbursed"] = "LoanDisbursed"
    order_id: str
    loan_order_id: str
    amount_fen: PositiveFen
    bank_reference: str


class OrderIntentPaid(_Payload):
    """order-service, when BillingPaid of the intent billing moves the order to intent_paid."""

    event_type: Literal["OrderIntentPaid"] = "OrderIntentPaid"
    order_id: str


class OrderFirmPaid(_Payload):
    """order-service, when BillingPaid of the firm billing opens the production gate."""

    event_type: Literal["OrderFirmPaid"] = "OrderFirmPaid"
    order_id: str


class OrderFinalPaid(_Payload):
    """order-service, when BillingPaid of the final billing makes the car deliverable."""

    event_type: Literal["OrderFinalPaid"] = "OrderFinalPaid"
    order_id: str


class VehicleBuilt(_Payload):
    """order-service, when the factory reports the car built (it has its VIN)."""

    event_type: Literal["VehicleBuilt"] = "VehicleBuilt"
    order_id: str
    production_order_id: str
    vin: str


class VehicleShipped(_Payload):
    """order-service, when the car leaves the factory for the delivery centre."""

    event_type: Literal["VehicleShipped"] = "VehicleShipped"
    order_id: str
    production_order_id: str
    vin: str


class VehicleArrivedAtDeliveryCentre(_Payload):
    """order-service, when the car reaches the delivery centre (VehicleReadyForDelivery follows)."""

    event_type: Literal["VehicleArrivedAtDeliveryCentre"] = "VehicleArrivedAtDeliveryCentre"
    order_id: str
    production_order_id: str
    vin: str
    delivery_centre: str


class ChargingPileSurveyed(_Payload):
    """order-service, when the installer reports the customer's site surveyed."""

    event_type: Literal["ChargingPileSurveyed"] = "ChargingPileSurveyed"
    order_id: str
    charging_pile_order_id: str


class ChargingPileInstalled(_Payload):
    """order-service, when the installer reports the home charger installed."""

    event_type: Literal["ChargingPileInstalled"] = "ChargingPileInstalled"
    order_id: str
    charging_pile_order_id: str


class ChargingPileNotNeeded(_Payload):
    """order-service, when the installer reports no installation will happen, and why."""

    event_type: Literal["ChargingPileNotNeeded"] = "ChargingPileNotNeeded"
    order_id: str
    charging_pile_order_id: str
    reason: str


class LoanSubmitted(_Payload):
    """order-service, when the collected loan intent is submitted to a bank."""

    event_type: Literal["LoanSubmitted"] = "LoanSubmitted"
    order_id: str
    loan_order_id: str
    bank_code: str
    requested_fen: PositiveFen


class ServiceOrderPaid(_Payload):
    """order-service, when BillingPaid of a service order's billing arrives."""

    event_type: Literal["ServiceOrderPaid"] = "ServiceOrderPaid"
    order_id: str
    parent_order_id: str


class ServiceOrderCompleted(_Payload):
    """order-service, when a paid post-delivery service is performed."""

    event_type: Literal["ServiceOrderCompleted"] = "ServiceOrderCompleted"
    order_id: str
    parent_order_id: str
    # window_film | maintenance | leasing; the ledger recognises revenue per kind
    # (absent in events written before it existed: read as "service").
    service_kind: str | None = None


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
    customer_payable_fen: NonNegativeFen | None = Field(
        default=None,
        description="What the customer must pay now: outstanding minus a loan still expected.",
    )
    loan_share_fen: NonNegativeFen = 0


class BillingPaid(_Payload):
    """billing-service, when the sum of a billing's payments reaches its amount."""

    event_type: Literal["BillingPaid"] = "BillingPaid"
    order_id: str
    billing_id: str
    stage: BillingStage
    amount_fen: PositiveFen
    paid_fen: NonNegativeFen
    # True when this payment completed the whole fund order (every billing paid): a lease
    # service order is paid once its last installment (or its payoff) is.
    fund_order_paid: bool = False


class BillingScheduled(_Payload):
    """billing-service, for each installment of a lease when the schedule is opened.

    The gateway accepts payments for it from ``payable_from`` (the advance window before
    ``due_at``); BillingDue follows on the due date.
    """

    event_type: Literal["BillingScheduled"] = "BillingScheduled"
    order_id: str
    billing_id: str
    customer_id: str
    stage: BillingStage
    installment_no: Annotated[int, Field(strict=True, ge=1)]
    amount_fen: PositiveFen
    due_at: datetime
    payable_from: datetime


class InstallmentOverdue(_Payload):
    """billing-service, when a due installment is still unpaid after the grace period."""

    event_type: Literal["InstallmentOverdue"] = "InstallmentOverdue"
    order_id: str
    billing_id: str
    customer_id: str
    installment_no: Annotated[int, Field(strict=True, ge=1)]
    due_at: datetime
    overdue_at: datetime
    outstanding_fen: PositiveFen


class BillingOverpaid(_Payload):
    """billing-service, when payments exceed a billing: the excess is a credit owed back."""

    event_type: Literal["BillingOverpaid"] = "BillingOverpaid"
    order_id: str
    billing_id: str
    stage: BillingStage
    overpaid_fen: PositiveFen
    payment_id: str | None = None
    amount_fen: NonNegativeFen | None = None
    paid_fen: NonNegativeFen | None = None


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
    stage: BillingStage | None = None


class BillingReopened(_Payload):
    """billing-service, when a refund or a higher amount takes a paid billing below its amount."""

    event_type: Literal["BillingReopened"] = "BillingReopened"
    order_id: str
    billing_id: str
    stage: BillingStage
    amount_fen: PositiveFen
    paid_fen: NonNegativeFen


class BillingAmountChanged(_Payload):
    """billing-service, when a billing's amount or self-pay part changes (repricing before the
    lock, loan approved with a principal, loan rejected: the loan share becomes self-pay)."""

    event_type: Literal["BillingAmountChanged"] = "BillingAmountChanged"
    order_id: str
    billing_id: str
    stage: BillingStage
    amount_fen: PositiveFen
    previous_amount_fen: PositiveFen
    self_pay_fen: NonNegativeFen
    previous_self_pay_fen: NonNegativeFen
    reason: str


class BillingCancelled(_Payload):
    """billing-service, for each billing when its order is cancelled: ``retained_fen`` is kept
    under the deposit policy, ``refund_fen`` goes back (RefundRequested events follow)."""

    event_type: Literal["BillingCancelled"] = "BillingCancelled"
    order_id: str
    billing_id: str
    stage: BillingStage
    paid_fen: NonNegativeFen
    retained_fen: NonNegativeFen
    refund_fen: NonNegativeFen
    reason: str


class BillingReminderDue(_Payload):
    """billing-service, when an unpaid billing reaches step ``step`` (1-based) of the named
    reminder ``schedule``; the app backend is told through the billing webhook."""

    event_type: Literal["BillingReminderDue"] = "BillingReminderDue"
    order_id: str
    billing_id: str
    customer_id: str
    stage: BillingStage
    schedule: str
    step: Annotated[int, Field(strict=True, ge=1)]
    due_at: datetime
    remind_at: datetime
    customer_payable_fen: NonNegativeFen


# --- payment-gateway ---------------------------------------------------------------


class PaymentCallback(_Payload):
    """payment-gateway, for every VERIFIED payment outcome (notification, query, POS, cash, wire).

    Never emitted for a synchronous channel answer alone. ``reversed``: an offline payment
    recorded by us was wrong and is taken back (a cash receipt reversed by finance, a wire
    claim undone); ``refund_id`` then carries the reversal's id and ``reason`` says why.

    ``payout_via`` (``refunded`` only) says where the refund's money left: ``channel`` (or
    absent, as every event before the field) the channel or acquirer returned it;
    ``bank_transfer`` finance paid it from our bank account; ``till`` a cashier paid it in
    cash at the till of ``store_id`` (the offline refunds queue's payouts).
    """

    event_type: Literal["PaymentCallback"] = "PaymentCallback"
    order_id: str
    billing_id: str
    payment_id: str
    channel: ChannelCode
    method: str
    outcome: Literal["succeeded", "failed", "refunded", "reversed"]
    out_trade_no: str
    channel_txn_id: str | None = None
    amount_fen: NonNegativeFen
    fee_fen: Fen | None = None
    refund_id: str | None = None
    store_id: str | None = None
    completed_at: datetime
    reason: str | None = None
    payout_via: PayoutVia | None = None


class PaymentCorrected(_Payload):
    """payment-gateway, when finance accepted the channel's figure for one of our payments
    (recon's ``accept_channel``): the payment's record was corrected (``POST
    /v1/payments/{payment_id}/corrections``), once per ``correction_id`` / ``adjustment_id``.

    ``before_*`` and ``after_*`` are the payment as it was and as it is now (a status of
    paying/unknown/failed/closed before means no money was counted for it);
    ``delta_fen`` = what the customer paid us more (+) or less (−) than counted before:
    ``after_amount_fen`` − (``before_amount_fen`` if it had succeeded, else 0). This event
    carries the money of the correction (the ledger posts it like a payment, billing counts
    it on the billing); the matching DiscrepancyResolved names ``correction_id`` and posts
    nothing.

    ``refund_id`` set: the correction is of that refund of the payment: ``before_*`` and
    ``after_*`` are the refund's. The channel refunded more than we counted, or a refund we
    held as failed or in process: ``delta_fen`` is negative (the customer has less with us).
    The channel refunded less than a succeeded refund of ours: ``delta_fen`` is positive (the
    difference is back in the order's deposits; the ledger posts it like a payment, the
    reverse of the refund's posting, and billing counts it on the payment again).
    """

    event_type: Literal["PaymentCorrected"] = "PaymentCorrected"
    correction_id: str
    adjustment_id: str
    discrepancy_id: str
    order_id: str
    billing_id: str
    payment_id: str
    channel: ChannelCode
    method: str
    out_trade_no: str
    channel_txn_id: str | None = None
    before_status: str
    before_amount_fen: PositiveFen
    after_status: Literal["succeeded"] = "succeeded"
    after_amount_fen: PositiveFen
    delta_fen: Fen
    fee_fen: Fen | None = None
    completed_at: datetime
    """When the payment completed (its own time, else the channel's line time)."""
    corrected_at: datetime
    reason: str
    refund_id: str | None = None


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
    """The NET the channel settles to our bank (gross − fees)."""
    fee_fen: Fen = 0
    gross_fen: Fen | None = None
    """What the statement collected for us before fees (payments − refunds); None: an older
    producer, read as ``settled_fen + fee_fen``."""
    statement_id: str | None = None
    statement_version: StatementVersion | None = None
    """1 for the first statement of (source, day), +1 for every corrected one. The ledger keys
    the settlement journal by (source, day, version) and posts only the difference to what an
    earlier version of the day posted."""


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
    adjustment_id: str | None = None
    """The recon adjustment (None: an older producer)."""
    payment_id: str | None = None
    correction_id: str | None = None
    """Set when the gateway corrected the payment (``accept_channel``): the money moves with
    PaymentCorrected, so the ledger posts no adjustment journal for this event."""


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
    | OrderIntentPaid
    | OrderFirmPaid
    | OrderFinalPaid
    | VehicleBuilt
    | VehicleShipped
    | VehicleArrivedAtDeliveryCentre
    | ChargingPileSurveyed
    | ChargingPileInstalled
    | ChargingPileNotNeeded
    | LoanSubmitted
    | ServiceOrderPaid
    | ServiceOrderCompleted
    | FundOrderOpened
    | BillingDue
    | BillingPaid
    | BillingScheduled
    | InstallmentOverdue
    | BillingOverpaid
    | RefundRequested
    | BillingReopened
    | BillingAmountChanged
    | BillingCancelled
    | BillingReminderDue
    | PaymentCallback
    | PaymentCorrected
    | WireReceived
    | WireClaimed
    | StatementLoaded
    | ReconCompleted
    | DiscrepancyResolved
    | JournalPosted
)

__all__ = [
    "BillingAmountChanged",
    "BillingCancelled",
    "BillingDue",
    "BillingOverpaid",
    "BillingPaid",
    "BillingReminderDue",
    "BillingScheduled",
    "InstallmentOverdue",
    "LeaseInstallment",
    "BillingReopened",
    "BillingStage",
    "ChannelCode",
    "ChargingPileInstalled",
    "ChargingPileNotNeeded",
    "ChargingPileSurveyed",
    "DiscrepancyResolved",
    "EventPayload",
    "FundOrderOpened",
    "JournalPosted",
    "LoanApproved",
    "LoanDisbursed",
    "LoanRejected",
    "LoanSubmitted",
    "OrderCancelled",
    "OrderCreated",
    "OrderDelivered",
    "OrderFinalPaid",
    "OrderFirmPaid",
    "OrderIntentPaid",
    "OrderLocked",
    "OrderRepriced",
    "PaymentCallback",
    "PaymentCorrected",
    "PayoutVia",
    "ProductionScheduled",
    "ReconCompleted",
    "ReconSource",
    "RefundRequested",
    "ServiceOrderCompleted",
    "ServiceOrderPaid",
    "StatementLoaded",
    "VehicleArrivedAtDeliveryCentre",
    "VehicleBuilt",
    "VehicleReadyForDelivery",
    "VehicleShipped",
    "WireClaimed",
    "WireReceived",
]
