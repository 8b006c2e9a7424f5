"""JSON views of sandbox state for the control API (what was sent, what came back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from channel_sandbox.store import Attempt, Delivery, Order, Refund


def iso(at_s: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC, or None."""
    return None if at_s is None else datetime.fromtimestamp(at_s, UTC).isoformat()


def order_view(order: Order, channel_state: Callable[[Order], str]) -> dict[str, object]:
    """The order, with its state in its channel's words (`Sandbox.channel_state`)."""
    return {
        "channel": order.channel,
        "out_trade_no": order.out_trade_no,
        "amount_fen": order.amount_fen,
        "origin": str(order.origin),
        "state": order.state.value,
        "channel_state": channel_state(order),
        "channel_txn_id": order.channel_txn_id,
        "notify_url": order.notify_url,
        "sync_success": order.sync_success,
        "created_at": iso(order.created_s),
        "paid_at": iso(order.paid_s),
        "closed_at": iso(order.closed_s),
        "refunded_fen": order.refunded_fen,
        "refunds": [refund_view(refund) for refund in order.refunds.values()],
        "notifications": [delivery_view(delivery) for delivery in order.deliveries],
        "log": list(order.log),
    }


def refund_view(refund: Refund) -> dict[str, object]:
    return {
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "amount_fen": refund.amount_fen,
        "status": "succeeded" if refund.succeeded else "processing",
        "notify_url": refund.notify_url,
        "created_at": iso(refund.created_s),
        "succeeded_at": iso(refund.succeeded_s),
    }


def delivery_view(delivery: Delivery) -> dict[str, object]:
    return {
        "delivery_id": delivery.delivery_id,
        "channel": delivery.channel,
        "out_trade_no": delivery.out_trade_no,
        "subject": delivery.subject,
        "outcome": delivery.label,
        "url": delivery.url,
        "status": delivery.status.value,
        "copy_of": delivery.copy_of,
        "attempt_count": len(delivery.attempts),
        "attempts": [attempt_view(attempt) for attempt in delivery.attempts],
    }


def attempt_view(attempt: Attempt) -> dict[str, object]:
    return {
        "number": attempt.number,
        "at": iso(attempt.at_s),
        "elapsed_ms": attempt.elapsed_ms,
        "status_code": attempt.status_code,
        "answer": attempt.answer,
        "accepted": attempt.accepted,
        "error": attempt.error,
    }
