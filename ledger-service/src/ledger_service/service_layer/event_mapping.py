"""Kafka payloads → posting-rule inputs (pure; the handlers add I/O around it).

The envelope's event id becomes the journal's source id, so a redelivered or replayed event
posts nothing new. Business timestamps come from the payload when it has one (``completed_at``,
``received_at``, ``delivered_at``), else from the envelope's ``occurred_at``. What the events
do not say comes from settings: the bank account a channel settles into, the bank account
wire and loan refunds leave from, the store whose till absorbs cash adjustments, and the
"unassigned" till for cash callbacks that name no store.

ReconCompleted is read as a settlement: ``gross_fen`` is what the statement collected (before
fees), ``fee_fen`` what the channel kept and ``settled_fen`` the net the bank receives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ledger_service.config import LedgerSettings
from ledger_service.domain import events as rule
from ledger_service.domain.chart import CLEARING_CHANNELS, Channel, parse_channel_code
from ledger_service.domain.settlements import SettlementVersion
from otd_shared.events import (
    DiscrepancyResolved,
    EventEnvelope,
    LoanDisbursed,
    PaymentCallback,
    PaymentCorrected,
    ReconCompleted,
    RefundRequested,
    WireClaimed,
    WireReceived,
)


def payment_callback(
    env: EventEnvelope, p: PaymentCallback, settings: LedgerSettings
) -> rule.LedgerEvent | None:
    """Succeeded → PaymentSucceeded; refunded → RefundSucceeded; reversed → PaymentReversed;
    failed → nothing."""
    if p.outcome == "failed" or p.amount_fen == 0:
        return None
    channel = parse_channel_code(p.channel)
    # Money received must land in the books: cash without a store goes to a visible till.
    store_id = p.store_id
    payout_via = p.payout_via
    if store_id is None and (channel is Channel.CASH or payout_via is rule.PayoutVia.TILL):
        store_id = settings.unassigned_cash_store_id
    if p.outcome == "reversed":
        return rule.PaymentReversed(
            event_id=str(env.event_id),
            order_id=p.order_id,
            channel=channel,
            amount_fen=p.amount_fen,
            occurred_at=p.completed_at,
            payment_id=p.payment_id,
            reversal_id=p.refund_id,
            store_id=store_id,
        )
    if p.outcome == "succeeded":
        return rule.PaymentSucceeded(
            event_id=str(env.event_id),
            order_id=p.order_id,
            channel=channel,
            amount_fen=p.amount_fen,
            occurred_at=p.completed_at,
            fee_fen=p.fee_fen,
            payment_id=p.payment_id,
            store_id=store_id,
        )
    return rule.RefundSucceeded(
        event_id=str(env.event_id),
        order_id=p.order_id,
        channel=channel,
        amount_fen=p.amount_fen,
        occurred_at=p.completed_at,
        refund_id=p.refund_id,
        store_id=store_id,
        bank_account_id=settings.default_bank_account_id,
        payout_via=payout_via,
    )


def payment_corrected(
    env: EventEnvelope, p: PaymentCorrected, settings: LedgerSettings
) -> rule.LedgerEvent | None:
    """The money of a payment correction (recon's accept_channel), posted as what it is: + delta
    a payment of the difference (Dr clearing / Cr deposits), − delta a reversal of it (cash at
    the recon till); the matching DiscrepancyResolved posts nothing (``discrepancy_resolved``),
    so the difference is booked once. A refund's correction is the same: made larger (−) it
    posts like the refund, made smaller (+) the reverse of the refund's posting."""
    if p.delta_fen == 0:
        return None
    cash = parse_channel_code(p.channel) is Channel.CASH
    difference = PaymentCallback(
        order_id=p.order_id,
        billing_id=p.billing_id,
        payment_id=p.payment_id,
        channel=p.channel,
        method=p.method,
        outcome="succeeded" if p.delta_fen > 0 else "reversed",
        out_trade_no=p.out_trade_no,
        channel_txn_id=p.channel_txn_id,
        amount_fen=abs(p.delta_fen),
        refund_id=p.correction_id,
        store_id=settings.recon_cash_store_id if cash else None,
        completed_at=p.corrected_at,
        reason=p.reason,
    )
    return payment_callback(env, difference, settings)


def wire_received(env: EventEnvelope, p: WireReceived, _: LedgerSettings) -> rule.WireReceived:
    """Dr bank / Cr the matched order's deposits, or suspense."""
    return rule.WireReceived(
        event_id=str(env.event_id),
        wire_id=p.wire_id,
        bank_account_id=p.bank_account,
        amount_fen=p.amount_fen,
        occurred_at=p.received_at,
        matched_order_id=p.matched_order_id,
    )


def wire_claimed(env: EventEnvelope, p: WireClaimed, _: LedgerSettings) -> rule.WireClaimed:
    """Dr suspense / Cr deposits."""
    return rule.WireClaimed(
        event_id=str(env.event_id),
        wire_id=p.wire_id,
        order_id=p.order_id,
        amount_fen=p.amount_fen,
        occurred_at=env.occurred_at,
    )


def loan_disbursed(env: EventEnvelope, p: LoanDisbursed, _: LedgerSettings) -> rule.LoanDisbursed:
    """Dr loan receivable / Cr deposits."""
    return rule.LoanDisbursed(
        event_id=str(env.event_id),
        order_id=p.order_id,
        loan_order_id=p.loan_order_id,
        amount_fen=p.amount_fen,
        occurred_at=env.occurred_at,
        bank_reference=p.bank_reference,
    )


def refund_requested(env: EventEnvelope, p: RefundRequested, _: LedgerSettings) -> rule.RefundOwed:
    """Offline refunds become refunds payable; channel refunds post when the channel refunds."""
    return rule.RefundOwed(
        event_id=str(env.event_id),
        order_id=p.order_id,
        amount_fen=p.amount_fen,
        occurred_at=env.occurred_at,
        channel=None if p.channel is None else parse_channel_code(p.channel),
        refund_request_id=p.refund_request_id,
    )


def recon_completed(
    env: EventEnvelope, p: ReconCompleted, settings: LedgerSettings
) -> rule.SettlementReported | None:
    """A clearing channel's settlement; cash and wire settle through other postings.

    A versioned report is keyed by (channel, day, version) and carries the version's TOTALS;
    the handler turns them into the difference to the version posted before (see
    ``settlement_version``). An unversioned one (an older producer) is keyed by its event id.
    """
    channel = parse_channel_code(p.source)
    if channel not in CLEARING_CHANNELS:
        return None
    version = settlement_version(p)
    return rule.SettlementReported(
        event_id=str(env.event_id) if version is None else version.source_id,
        channel=channel,
        statement_date=p.recon_date,
        gross_fen=gross_of(p),
        fee_fen=p.fee_fen,
        bank_account_id=settings.settlement_bank_account(channel.value),
        occurred_at=env.occurred_at,
    )


def gross_of(p: ReconCompleted) -> int:
    """What the statement collected before fees (``settled_fen`` is the net)."""
    return p.settled_fen + p.fee_fen if p.gross_fen is None else p.gross_fen


def settlement_version(p: ReconCompleted) -> SettlementVersion | None:
    """The report as a settlement version, or None when the producer sent no version."""
    if p.statement_version is None:
        return None
    return SettlementVersion(
        channel=p.source,
        statement_date=p.recon_date,
        version=p.statement_version,
        gross_fen=gross_of(p),
        fee_fen=p.fee_fen,
        statement_id=p.statement_id,
    )


def discrepancy_resolved(
    env: EventEnvelope, p: DiscrepancyResolved, settings: LedgerSettings
) -> rule.ReconAdjusted | None:
    """An approved adjustment between the channel's holding account and recon differences;
    None when the gateway corrected the payment (``correction_id``): PaymentCorrected carries
    that money."""
    if p.correction_id is not None:
        return None
    channel = parse_channel_code(p.source)
    return rule.ReconAdjusted(
        event_id=str(env.event_id),
        discrepancy_id=p.discrepancy_id,
        channel=channel,
        adjustment_fen=p.adjustment_fen,
        occurred_at=env.occurred_at,
        reason=p.reason,
        kind=p.kind,
        order_id=p.order_id,
        store_id=settings.recon_cash_store_id if channel is Channel.CASH else None,
        bank_account_id=settings.default_bank_account_id if channel is Channel.WIRE else None,
    )


Mapper = Callable[[EventEnvelope, Any, LedgerSettings], rule.LedgerEvent | None]

# One line per consumed payload class (OrderDelivered needs a balance: see event_handlers).
MAPPERS: Final[Mapping[type[Any], Mapper]] = {
    PaymentCallback: payment_callback,
    PaymentCorrected: payment_corrected,
    WireReceived: wire_received,
    WireClaimed: wire_claimed,
    LoanDisbursed: loan_disbursed,
    RefundRequested: refund_requested,
    ReconCompleted: recon_completed,
    DiscrepancyResolved: discrepancy_resolved,
}


def to_ledger_event(env: EventEnvelope, settings: LedgerSettings) -> rule.LedgerEvent | None:
    """The rule input for an envelope, or None when the event moves no money."""
    mapper = MAPPERS.get(type(env.payload))
    return None if mapper is None else mapper(env, env.payload, settings)
