"""Posting rules: one pure function per event kind, proposing a journal or None.

Every proposal lists the accounts its legs touch, with the type the chart gives them, so the
caller opens missing ones (idempotently) and posts in one transaction. The journal's source id is
the event id, so replaying an event posts nothing new.

| input                | journal                                                                |
|----------------------|------------------------------------------------------------------------|
| PaymentSucceeded     | Dr clearing:<ch> (cash: cash:<store>) / Cr deposits:<order>; wire and  |
|                      | loan → None (posted by WireReceived/WireClaimed and LoanDisbursed);    |
|                      | discount: Dr marketing_expense / Cr deposits:<order>                   |
| PaymentReversed      | cash: Dr deposits:<order> / Cr cash:<store>; wire: Dr deposits:<order> |
|                      | / Cr suspense (the wire is unclaimed again); POS: Cr clearing:<ch>     |
| LoanDisbursed        | Dr loan_receivable / Cr deposits:<order>                               |
| RefundOwed           | offline channel or unknown: Dr deposits:<order> / Cr refunds_payable;  |
|                      | online/POS → None (the channel refund posts it)                        |
| RefundSucceeded      | online/POS: Dr deposits:<order> / Cr clearing:<ch>;                    |
|                      | cash: Dr refunds_payable / Cr cash:<store>;                            |
|                      | wire, loan: Dr refunds_payable / Cr bank:<account>;                    |
|                      | discount (reversed): Dr deposits:<order> / Cr marketing_expense;       |
|                      | paid out by hand (payout_via): Cr bank:<account> (bank_transfer) or    |
|                      | cash:<store> (till); Dr refunds_payable, or deposits:<order> for an    |
|                      | online/POS channel (no payable was owed for it)                        |
| SettlementReported   | Dr bank (net) + Dr fees:<ch> (fee) / Cr clearing:<ch> (gross);         |
|                      | loan: clearing is loan_receivable; negative amounts flip sides         |
| WireReceived         | Dr bank / Cr deposits:<matched order>, or Cr suspense when unmatched   |
| WireClaimed          | Dr suspense / Cr deposits:<order>                                      |
| CashDeposited        | Dr bank / Cr cash:<store>                                              |
| OrderDelivered       | Dr deposits:<order> / Cr revenue for the deposit balance; 0 → None     |
| ServiceCompleted     | Dr deposits:<service order> / Cr service_revenue:<kind>; 0 → None      |
| ReconAdjusted        | > 0: Dr clearing / Cr recon_differences; < 0: the reverse; 0 → None    |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ledger_service.domain.accounts import Account
from ledger_service.domain.business_date import business_date_of
from ledger_service.domain.chart import (
    CLEARING_CHANNELS,
    DEFAULT_CHART,
    LOAN_RECEIVABLE_ACCOUNT,
    MARKETING_EXPENSE_ACCOUNT,
    RECON_DIFFERENCES_ACCOUNT,
    REFUNDS_PAYABLE_ACCOUNT,
    REVENUE_ACCOUNT,
    SUSPENSE_ACCOUNT,
    Channel,
    Chart,
    account_for,
    bank_account,
    clearing_account,
    deposits_account,
    fees_account,
    receiving_account,
    service_revenue_account,
)
from ledger_service.domain.errors import InvalidEvent
from ledger_service.domain.events import (
    CashDeposited,
    LedgerEvent,
    LoanDisbursed,
    OrderDelivered,
    PaymentReversed,
    PaymentSucceeded,
    PayoutVia,
    ReconAdjusted,
    RefundOwed,
    RefundSucceeded,
    ServiceCompleted,
    SettlementReported,
    WireClaimed,
    WireReceived,
)
from ledger_service.domain.journal import MAX_DESCRIPTION_CHARS, JournalDraft, Leg, signed_leg
from ledger_service.domain.money import is_fen


@dataclass(frozen=True)
class PostingProposal:
    """A journal a rule proposes, and every account its legs touch (to open if missing)."""

    journal: JournalDraft
    accounts: tuple[Account, ...]


def propose(event: LedgerEvent, chart: Chart = DEFAULT_CHART) -> PostingProposal | None:
    """Apply the registered rule for the event's class; an unregistered class raises."""
    rule = POSTING_RULES.get(type(event))
    if rule is None:
        raise InvalidEvent(f"no posting rule for {type(event).__name__}")
    return rule(event, chart)


def payment_succeeded(
    event: PaymentSucceeded, chart: Chart = DEFAULT_CHART
) -> PostingProposal | None:
    """Dr the channel's receiving account / Cr deposits:<order>; wire and loan post elsewhere."""
    if event.channel in (Channel.WIRE, Channel.LOAN):
        return None
    amount_fen = _positive("amount_fen", event.amount_fen)
    debit = receiving_account(event.channel, store_id=event.store_id)
    legs = _transfer(debit, deposits_account(event.order_id), amount_fen, event.currency)
    text = f"payment {event.payment_id or ''} via {event.channel.value} for order {event.order_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def payment_reversed(event: PaymentReversed, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Dr deposits:<order> / Cr where the money sits again: till, suspense or clearing."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    if event.channel is Channel.WIRE:
        credit = SUSPENSE_ACCOUNT
    elif event.channel in (Channel.CASH, *CLEARING_CHANNELS):
        credit = receiving_account(event.channel, store_id=event.store_id)
    else:
        raise InvalidEvent(f"a {event.channel.value} payment cannot be reversed")
    legs = _transfer(deposits_account(event.order_id), credit, amount_fen, event.currency)
    text = (
        f"reversal {event.reversal_id or ''} of payment {event.payment_id or ''} "
        f"via {event.channel.value} for order {event.order_id}"
    )
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def loan_disbursed(event: LoanDisbursed, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Dr loan_receivable / Cr deposits:<order>: the lender owes us until its money lands."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    credit = deposits_account(event.order_id)
    legs = _transfer(LOAN_RECEIVABLE_ACCOUNT, credit, amount_fen, event.currency)
    text = f"loan {event.loan_order_id} disbursed for order {event.order_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def refund_owed(event: RefundOwed, chart: Chart = DEFAULT_CHART) -> PostingProposal | None:
    """Offline refunds become a payable (Dr deposits / Cr refunds_payable); online post later."""
    if event.channel in CLEARING_CHANNELS:
        return None
    amount_fen = _positive("amount_fen", event.amount_fen)
    debit = deposits_account(event.order_id)
    legs = _transfer(debit, REFUNDS_PAYABLE_ACCOUNT, amount_fen, event.currency)
    text = f"refund {event.refund_request_id or ''} owed for order {event.order_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def refund_succeeded(event: RefundSucceeded, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Channel refunds leave clearing; offline refunds settle the payable from till or bank;
    a refund paid out by hand (``payout_via``) leaves the bank or the till it names."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    if event.payout_via in (PayoutVia.BANK_TRANSFER, PayoutVia.TILL):
        debit, credit = _paid_by_hand(event)
    elif event.channel in CLEARING_CHANNELS:
        debit, credit = deposits_account(event.order_id), clearing_account(event.channel)
    elif event.channel is Channel.DISCOUNT:
        debit, credit = deposits_account(event.order_id), MARKETING_EXPENSE_ACCOUNT
    elif event.channel is Channel.CASH:
        debit, credit = REFUNDS_PAYABLE_ACCOUNT, _cash(event.store_id)
    else:
        debit, credit = REFUNDS_PAYABLE_ACCOUNT, _bank(event.bank_account_id)
    legs = _transfer(debit, credit, amount_fen, event.currency)
    text = f"refund {event.refund_id or ''} via {event.channel.value} for order {event.order_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def _paid_by_hand(event: RefundSucceeded) -> tuple[str, str]:
    """A queue payout: the money left the bank or the till, never a clearing account.
    RefundOwed booked a payable for offline channels only (online/POS: none, the channel
    was to refund), so the debit is that payable or the order's deposits."""
    if event.channel is Channel.DISCOUNT:
        raise InvalidEvent("an instant discount is not paid out by hand")
    owed = event.channel not in CLEARING_CHANNELS
    debit = REFUNDS_PAYABLE_ACCOUNT if owed else deposits_account(event.order_id)
    if event.payout_via is PayoutVia.TILL:
        return debit, _cash(event.store_id)
    return debit, _bank(event.bank_account_id)


def settlement_reported(
    event: SettlementReported, chart: Chart = DEFAULT_CHART
) -> PostingProposal | None:
    """Dr bank (net) + Dr fees (fee) / Cr clearing (gross); None when everything is zero."""
    if event.channel is not Channel.LOAN and event.channel not in CLEARING_CHANNELS:
        raise InvalidEvent(f"channel {event.channel.value} does not settle; it has no clearing")
    gross_fen = _integer("gross_fen", event.gross_fen)
    fee_fen = _integer("fee_fen", event.fee_fen)
    clearing = receiving_account(event.channel)
    signed = (
        (bank_account(event.bank_account_id), gross_fen - fee_fen),
        (fees_account(event.channel), fee_fen),
        (clearing, -gross_fen),
    )
    legs = [leg for code, fen in signed if (leg := signed_leg(code, fen, event.currency))]
    if not legs:
        return None
    text = f"settlement of {event.channel.value} for {event.statement_date.isoformat()}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def wire_received(event: WireReceived, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Dr bank / Cr deposits of the matched order, or Cr suspense while unidentified."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    matched = event.matched_order_id
    credit = SUSPENSE_ACCOUNT if matched is None else deposits_account(matched)
    legs = _transfer(_bank(event.bank_account_id), credit, amount_fen, event.currency)
    text = f"wire {event.wire_id} received" + (f" for order {matched}" if matched else "")
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def wire_claimed(event: WireClaimed, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Dr suspense / Cr deposits:<order>: an unidentified wire is claimed for an order."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    credit = deposits_account(event.order_id)
    legs = _transfer(SUSPENSE_ACCOUNT, credit, amount_fen, event.currency)
    text = f"wire {event.wire_id} claimed for order {event.order_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def cash_deposited(event: CashDeposited, chart: Chart = DEFAULT_CHART) -> PostingProposal:
    """Dr bank / Cr cash:<store>: the store's cash reaches the bank."""
    amount_fen = _positive("amount_fen", event.amount_fen)
    debit, credit = _bank(event.bank_account_id), _cash(event.store_id)
    legs = _transfer(debit, credit, amount_fen, event.currency)
    text = f"cash deposit {event.deposit_id or ''} from store {event.store_id}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def order_delivered(event: OrderDelivered, chart: Chart = DEFAULT_CHART) -> PostingProposal | None:
    """Dr deposits:<order> / Cr revenue for the whole deposit balance; None when it is zero.

    A negative balance (more refunded than received) is an error for finance, not revenue.
    """
    balance_fen = _recognisable(event.order_id, event.deposit_balance_fen)
    if balance_fen == 0:
        return None
    debit = deposits_account(event.order_id)
    legs = _transfer(debit, REVENUE_ACCOUNT, balance_fen, event.currency)
    text = f"order {event.order_id} delivered: deposits recognised as revenue"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def service_completed(
    event: ServiceCompleted, chart: Chart = DEFAULT_CHART
) -> PostingProposal | None:
    """Dr deposits:<service order> / Cr service_revenue:<kind>; None when nothing was paid."""
    balance_fen = _recognisable(event.order_id, event.deposit_balance_fen)
    if balance_fen == 0:
        return None
    revenue = service_revenue_account(event.service_kind)
    legs = _transfer(deposits_account(event.order_id), revenue, balance_fen, event.currency)
    text = f"{event.service_kind} service order {event.order_id} completed: revenue recognised"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def _recognisable(order_id: str, deposit_balance_fen: int) -> int:
    """A deposit balance that may become revenue: integer fen, never negative."""
    balance_fen = _integer("deposit_balance_fen", deposit_balance_fen)
    if balance_fen < 0:
        raise InvalidEvent(f"order {order_id}: deposit balance {balance_fen} fen is negative")
    return balance_fen


def recon_adjusted(event: ReconAdjusted, chart: Chart = DEFAULT_CHART) -> PostingProposal | None:
    """Move the adjustment between the channel's receiving account and recon_differences."""
    adjustment_fen = _integer("adjustment_fen", event.adjustment_fen)
    if adjustment_fen == 0:
        return None
    holding = receiving_account(
        event.channel, store_id=event.store_id, bank_account_id=event.bank_account_id
    )
    debit, credit = (holding, RECON_DIFFERENCES_ACCOUNT)
    if adjustment_fen < 0:
        debit, credit = credit, debit
    legs = _transfer(debit, credit, abs(adjustment_fen), event.currency)
    text = f"recon adjustment {event.discrepancy_id} ({event.kind}): {event.reason}"
    return _proposal(event.event_id, event.occurred_at, text, legs, event.currency, chart)


def _positive(name: str, value: int) -> int:
    if _integer(name, value) <= 0:
        raise InvalidEvent(f"{name} must be > 0, got {value}")
    return value


def _integer(name: str, value: int) -> int:
    if not is_fen(value):
        raise InvalidEvent(f"{name} must be integer fen, got {type(value).__name__}")
    return value


def _cash(store_id: str | None) -> str:
    return receiving_account(Channel.CASH, store_id=store_id)


def _bank(bank_account_id: str | None) -> str:
    return receiving_account(Channel.WIRE, bank_account_id=bank_account_id)


def _transfer(debit: str, credit: str, amount_fen: int, currency: str) -> list[Leg]:
    return [Leg.debit(debit, amount_fen, currency), Leg.credit(credit, amount_fen, currency)]


def _proposal(
    source_id: str,
    occurred_at: datetime,
    description: str,
    legs: list[Leg],
    currency: str,
    chart: Chart,
) -> PostingProposal:
    journal = JournalDraft(
        source_id=source_id,
        business_date=business_date_of(occurred_at),
        description=" ".join(description.split())[:MAX_DESCRIPTION_CHARS],
        legs=tuple(legs),
    )
    accounts = tuple(account_for(code, currency, chart) for code in journal.accounts)
    return PostingProposal(journal=journal, accounts=accounts)


# The registry: one line per rule input class. `propose` dispatches on the exact class.
POSTING_RULES: Final[Mapping[type[Any], Callable[[Any, Chart], PostingProposal | None]]] = {
    PaymentSucceeded: payment_succeeded,
    PaymentReversed: payment_reversed,
    LoanDisbursed: loan_disbursed,
    RefundOwed: refund_owed,
    RefundSucceeded: refund_succeeded,
    SettlementReported: settlement_reported,
    WireReceived: wire_received,
    WireClaimed: wire_claimed,
    CashDeposited: cash_deposited,
    OrderDelivered: order_delivered,
    ServiceCompleted: service_completed,
    ReconAdjusted: recon_adjusted,
}
