"""``SameKeyWatch``: whether two lines of a load may share kind, ids and amount."""

from __future__ import annotations

import uuid

from recon_service.adapters.statement_repo import SameKeyWatch

STATEMENT = uuid.uuid4()


def row(
    line_no: int, out_trade_no: str, amount: int, fee: int = 6, status: str = "succeeded"
) -> str:
    return "\t".join(
        [str(STATEMENT), str(line_no), "wechatpay", "2031-12-01", "payment", out_trade_no,
         f"42{out_trade_no}", "\\N", str(amount), str(fee), status,
         "2031-11-30T16:00:00+00:00", "{}"]
    )  # fmt: skip


def text(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def test_distinct_keys_over_several_blocks_are_not_alike() -> None:
    watch = SameKeyWatch()
    watch.add_copy_text(text(row(2, "A", 100), row(3, "B", 100)))
    watch.add_copy_text(text(row(4, "A", 101), row(5, "C", 100)))
    assert watch.maybe is False


def test_the_same_key_in_another_block_may_be_alike_whatever_else_differs() -> None:
    watch = SameKeyWatch()
    watch.add_copy_text(text(row(2, "A", 100), row(3, "B", 100)))
    watch.add_copy_text(text(row(9, "A", 100, fee=7, status="failed")))
    assert watch.maybe is True


def test_past_its_cap_the_watch_says_maybe() -> None:
    watch = SameKeyWatch(cap=3)
    watch.add_copy_text(text(*(row(n, f"K{n}", 100) for n in range(2, 5))))
    assert watch.maybe is False
    watch.add_copy_text(text(row(5, "K5", 100)))
    assert watch.maybe is True
