"""``pulled_ahead``: the upload parses the next block while the COPY takes this one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest

from recon_service.adapters.statements import BulkBlock
from recon_service.service_layer.statements import _bulk_blocks, _Tally, pulled_ahead

pytestmark = pytest.mark.asyncio


class _Blocks:
    """Pulls numbered blocks, noting when each pull started and ended."""

    def __init__(self, count: int, seconds: float = 0.0, fail_at: int | None = None) -> None:
        self.count = count
        self.seconds = seconds
        self.fail_at = fail_at
        self.pulled = 0
        self.started: list[float] = []
        self.ended: list[float] = []

    def __call__(self) -> int | None:
        self.started.append(time.monotonic())
        time.sleep(self.seconds)
        self.pulled += 1
        self.ended.append(time.monotonic())
        if self.fail_at is not None and self.pulled == self.fail_at:
            raise ValueError("broken block")
        return self.pulled if self.pulled <= self.count else None


async def test_every_block_comes_in_order_and_the_end_is_none() -> None:
    blocks = _Blocks(5)
    assert [b async for b in pulled_ahead(blocks)] == [1, 2, 3, 4, 5]
    assert blocks.pulled == 6


async def test_the_next_block_is_pulled_while_the_caller_handles_this_one() -> None:
    blocks = _Blocks(3, seconds=0.05)
    handled: list[tuple[int, float]] = []
    async for block in pulled_ahead(blocks):
        handled.append((block, time.monotonic()))
        await asyncio.sleep(0.05)  # the COPY of this block
    # Block 2's pull started before the caller was done with block 1.
    assert blocks.started[1] < handled[0][1] + 0.05
    assert [b for b, _ in handled] == [1, 2, 3]


async def test_a_pull_that_raises_ends_the_iteration_with_its_error() -> None:
    blocks = _Blocks(5, fail_at=3)
    seen: list[int] = []

    async def take_all() -> None:
        async for block in pulled_ahead(blocks):
            seen.append(block)

    with pytest.raises(ValueError, match="broken block"):
        await take_all()
    assert seen == [1, 2]


async def test_closing_early_waits_for_the_pull_in_flight() -> None:
    blocks = _Blocks(5, seconds=0.1)
    async with contextlib.aclosing(pulled_ahead(blocks)) as ahead:
        assert await anext(ahead) == 1
    # Nothing runs in a thread once closed: the pull of block 2 had ended.
    assert len(blocks.ended) == len(blocks.started) == 2
    pulled = blocks.pulled
    await asyncio.sleep(0.15)
    assert blocks.pulled == pulled


async def test_closing_the_upload_blocks_early_waits_for_the_parse_in_flight() -> None:
    """What a COPY the server stopped does: the load closes its blocks and parses the file
    again, so no parse of the first pass may still be reading it."""
    pulls = _Blocks(5, seconds=0.1)

    def parsed() -> Iterator[BulkBlock]:
        while (n := pulls()) is not None:
            yield BulkBlock(text=b"%d\n" % n, key_hashes=[n], lines=1, payments=1, refunds=0,
                            payment_total_fen=n, refund_total_fen=0, fee_total_fen=0)  # fmt: skip

    blocks = _bulk_blocks(parsed(), _Tally())
    async with contextlib.aclosing(blocks):
        assert await anext(blocks) == b"1\n"
    assert len(pulls.ended) == len(pulls.started) == 2
    await asyncio.sleep(0.15)
    assert len(pulls.started) == 2
