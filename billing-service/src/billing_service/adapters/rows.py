"""Domain → column values of the ``fund_orders`` and ``billings`` rows.

The billing row keeps the derived amounts and status next to the facts, so the queries
(billings by status and due date) read rows, never aggregates. They are written with
every save from the aggregate, so they cannot drift from it.
"""

from __future__ import annotations

import uuid
from typing import Any

from billing_service.domain import Billing, FundOrder, LeaseFundOrder, ServiceFundOrder


def billing_row(billing: Billing) -> dict[str, Any]:
    """The columns of a billing row that change (amounts, derived state, dates)."""
    return {
        "amount_fen": billing.amount_fen,
        "loan_share_fen": billing.loan_share_fen,
        "paid_fen": billing.paid_fen,
        "loan_paid_fen": billing.book.loan_paid_fen,
        "customer_payable_fen": billing.customer_payable_fen,
        "credit_fen": billing.credit_fen,
        "retained_fen": billing.retained_fen,
        "status": billing.status.value,
        "due_at": billing.due_at,
        "cancelled_at": billing.cancelled_at,
        "installment_no": billing.installment_no,
        "scheduled_due_at": billing.scheduled_due_at,
        "overdue_at": billing.overdue_at,
        "superseded": billing.superseded,
    }


def fund_order_row(fund: FundOrder | ServiceFundOrder | LeaseFundOrder) -> dict[str, Any]:
    """The columns of a fund order row that describe its kind, terms and progress."""
    cancellation = fund.cancellation
    values: dict[str, Any] = {
        "cancelled_at": cancellation.cancelled_at if cancellation else None,
        "cancel_refund_fen": cancellation.refund_fen if cancellation else None,
        "cancel_retained_fen": cancellation.retained_fen if cancellation else None,
        "cancel_reason": cancellation.reason if cancellation else None,
    }
    if isinstance(fund, ServiceFundOrder | LeaseFundOrder):
        kind = "service" if isinstance(fund, ServiceFundOrder) else "lease"
        return {**values, "kind": kind, "parent_order_id": uuid.UUID(fund.parent_order_id)}
    policy, loan = fund.policy, fund.loan
    return {
        **values,
        "kind": "vehicle",
        "policy_name": policy.name,
        "policy_intent_fen": policy.intent_fen,
        "policy_firm_fen": policy.firm_fen,
        "intent_refundable_after_lock": policy.intent_refundable_after_lock,
        "firm_refundable_after_lock": policy.firm_refundable_after_lock,
        "locked_at": fund.locked_at,
        "loan_status": loan.status.value,
        "loan_requested_fen": loan.requested_fen,
        "loan_principal_fen": loan.principal_fen,
        "loan_bank_reference": loan.bank_reference,
    }
