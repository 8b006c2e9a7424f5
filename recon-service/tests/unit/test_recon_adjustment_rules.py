"""Pure rules of adjustments: the amount each outcome needs, ageing priorities, the chain."""

from __future__ import annotations

from datetime import date

from recon_service.domain.adjustments import (
    GENESIS_HASH,
    AgeingPolicy,
    Priority,
    adjustment_fen,
    chain_hash,
    first_broken,
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
