"""``SameKeyWatch`` and ``copy_rows``' key hashes: whether two lines of a load may share
kind, ids and amount."""

from __future__ import annotations

import uuid
from datetime import date

from recon_service.adapters.statement_repo import SameKeyWatch
from recon_service.adapters.statements.bulk import copy_rows
from recon_service.domain.statement import Source

STATEMENT = uuid.uuid4()
DAY = date(2031, 12, 1)

Row = tuple[str, str, str, str]  # out_trade_no, amount, fee, status


def block(first_no: int, *rows: Row) -> list[int]:
    """The key hashes ``copy_rows`` gives rows of these values (refs and times alike)."""
    columns = [
        ["payment"] * len(rows), [r[0] for r in rows], [f"42{r[0]}" for r in rows],
        ["\\N"] * len(rows), [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
        ["2031-11-30T16:00:00+00:00"] * len(rows), ["{}"] * len(rows),
    ]  # fmt: skip
    copied = copy_rows(STATEMENT, Source.WECHATPAY, DAY, first_no, columns)
    assert copied.text.count(b"\n") == len(rows) == len(copied.key_hashes)
    return copied.key_hashes


def test_distinct_keys_over_several_blocks_are_not_alike() -> None:
    watch = SameKeyWatch()
    watch.add(block(2, ("A", "100", "6", "succeeded"), ("B", "100", "6", "succeeded")))
    watch.add(block(4, ("A", "101", "6", "succeeded"), ("C", "100", "6", "succeeded")))
    assert watch.maybe is False


def test_the_same_key_in_another_block_may_be_alike_whatever_else_differs() -> None:
    watch = SameKeyWatch()
    watch.add(block(2, ("A", "100", "6", "succeeded"), ("B", "100", "6", "succeeded")))
    watch.add(block(9, ("A", "100", "7", "failed")))
    assert watch.maybe is True


def test_past_its_cap_the_watch_says_maybe() -> None:
    watch = SameKeyWatch(cap=3)
    watch.add(block(2, *((f"K{n}", "100", "6", "succeeded") for n in range(3))))
    assert watch.maybe is False
    watch.add(block(5, ("K5", "100", "6", "succeeded")))
    assert watch.maybe is True
