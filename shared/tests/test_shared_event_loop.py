"""The loop long-running processes run on (otd_shared.event_loop)."""

from __future__ import annotations

import asyncio

from otd_shared import event_loop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_run_answers_the_coroutine_on_uvloop() -> None:
    assert event_loop.loop_factory() is not None
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_run_closes_its_loop_and_can_run_again() -> None:
    first = event_loop.run(_loop_module())
    assert event_loop.run(_loop_module()) == first
    assert asyncio.get_event_loop_policy().__class__.__module__.startswith("asyncio")
