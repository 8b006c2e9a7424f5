"""The event loop of every long-running process: uvloop when it is installed (it is a
runtime dependency, through ``uvicorn[standard]``), else asyncio's own. uvicorn already
serves ``api`` on uvloop; the ``relay``, ``consumer`` and ``worker`` processes run here on
the same loop, so a replica's consumers cost what the API process's in-process ones do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) where uvloop is missing."""
    try:
        import uvloop  # noqa: PLC0415  (optional at import time)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop of ``loop_factory``."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
