"""Pure rules of adjustments: the amount each outcome needs, ageing priorities, the chain."""

from __future__ import annotations

from datetime import UTC, date, datetime

from recon_service.domain.adjustments import (
    GENESIS_HASH,
    AgeingPolicy,
    Priority,
    adjustment_fen,
    chain_hash,
    correction_body,
    corrects_payment,
    first_broken,
    refunds_nothing,
)


def row(outcome: str, line: int | None, record: int | None, **kw: object) -> dict[str, object]:
    return {
        "outcome": outcome, "kind": kw.get("kind", "payment"), "line_amount_fen": line,
        "record_amount_fen": record, "line_status": kw.get("line_status", "succeeded"),
        "record_status": kw.get("record_status", "succeeded"), "line_fee_fen": 6,
        "record_fee_fen": 5,
    }  # fmt: skip


def test_the_adjustment_is_what_clearing_needs() -> None:
    assert adjustment_fen(row("channel_only", 700, None)) == 700
    assert adjustment_fen(row("internal_only", None, 900)) == -900
    assert adjustment_fen(row("amount_mismatch", 990, 1_000)) == -10
    assert adjustment_fen(row("amount_mismatch", 990, 1_000, kind="refund")) == 10
    assert adjustment_fen(row("status_mismatch", 500, 500, record_status="failed")) == 500
    assert adjustment_fen(row("status_mismatch", 500, 500, line_status="failed")) == -500
    assert adjustment_fen(row("fee_mismatch", 500, 500)) == 0


def test_ageing_priorities_by_amount_and_age() -> None:
    policy = AgeingPolicy()
    day, today = date(2031, 1, 10), date(2031, 1, 11)
    assert policy.priority(10_000_000, day, today) is Priority.CRITICAL  # ≥ 100,000.00 CNY
    assert policy.priority(100, date(2031, 1, 5), today) is Priority.CRITICAL  # > 5 days
    assert policy.priority(1_000_000, day, today) is Priority.HIGH
    assert policy.priority(100, date(2031, 1, 8), today) is Priority.HIGH  # > 2 days
    assert policy.priority(100, day, today) is Priority.NORMAL


def test_the_chain_finds_the_first_changed_entry() -> None:
    entries, prev = [], GENESIS_HASH
    for seq in range(1, 4):
        body = {"actor": "a", "action": f"x{seq}", "reason": None}
        digest = chain_hash(prev, body)
        entries.append({"seq": seq, **body, "prev_hash": prev, "hash": digest})
        prev = digest
    assert first_broken(entries) is None
    entries[1]["reason"] = "edited"
    assert first_broken(entries) == 2


def test_accept_channel_corrects_only_payment_lines_the_channel_settled() -> None:
    assert corrects_payment(row("amount_mismatch", 500_000, 499_000))
    assert corrects_payment(row("status_mismatch", 500, 500, record_status="failed"))
    assert corrects_payment(row("channel_only", 700, None))
    assert not corrects_payment(row("status_mismatch", 500, 500, line_status="failed"))
    assert corrects_payment(row("amount_mismatch", 990, 1_000, kind="refund"))  # refunded less
    assert corrects_payment(row("amount_mismatch", 1_100, 1_000, kind="refund"))  # refunded more
    assert corrects_payment(row("channel_only", 700, None, kind="refund"))  # ours processing
    assert not corrects_payment(
        row("status_mismatch", 500, 500, kind="refund", line_status="failed")
    )
    assert not corrects_payment(
        row("status_mismatch", 500, 500, kind="refund", record_status="failed")
    )
    assert not corrects_payment(row("internal_only", None, 900, line_status=None))
    assert not corrects_payment(row("fee_mismatch", 500, 500))
    assert not corrects_payment({**row("amount_mismatch", 9, 8), "match_group": "G:payment:x"})


def test_the_correction_request_carries_the_channel_figure_and_the_adjustment() -> None:
    at = datetime(2031, 7, 14, 2, 0, tzinfo=UTC)
    discrepancy = {
        **row("amount_mismatch", 500_000, 499_000), "discrepancy_id": "D", "source": "wechatpay",
    }  # fmt: skip
    adjustment = {
        "adjustment_id": "A", "adjustment_fen": 1_000, "reason": "statement",
        "requested_by": "finance:1",
    }  # fmt: skip
    line = {"channel_txn_id": "4200", "occurred_at": at}
    body = correction_body(discrepancy, adjustment, line, approved_by="approver:2", refund_id=None)
    assert body == {
        "adjustment_id": "A", "discrepancy_id": "D", "source": "wechatpay",
        "channel_status": "succeeded", "channel_amount_fen": 500_000, "adjustment_fen": 1_000,
        "channel_txn_id": "4200", "channel_completed_at": at.isoformat(), "reason": "statement",
        "requested_by": "finance:1", "approved_by": "approver:2", "refund_id": None,
    }  # fmt: skip
    bare = correction_body(discrepancy, adjustment, None, approved_by=None, refund_id=None)
    assert bare["channel_txn_id"] is None
    refund = {**discrepancy, "kind": "refund", "record_ref": None}  # a channel-only line
    found = correction_body(refund, adjustment, line, approved_by=None, refund_id="R1")
    assert found["refund_id"] == "R1"


def test_a_refund_line_of_nothing_is_no_refund_to_correct_to() -> None:
    assert refunds_nothing(row("amount_mismatch", 0, 1_000, kind="refund"))
    assert not refunds_nothing(row("amount_mismatch", 1, 1_000, kind="refund"))
    assert not refunds_nothing(row("amount_mismatch", 0, 1_000))  # a payment line
