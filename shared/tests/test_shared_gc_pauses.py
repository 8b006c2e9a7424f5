"""``startup_objects_frozen``: startup objects out of the collector's passes, given back after."""

from __future__ import annotations

import gc
import weakref

from otd_shared.gc_pauses import startup_objects_frozen


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_startup_objects_are_frozen_while_open_and_given_back_after() -> None:
    built_at_startup = _Cycle()
    startup_ref = weakref.ref(built_at_startup)
    with startup_objects_frozen():
        assert gc.get_freeze_count() > 0
        del built_at_startup
        later = _Cycle()
        later_ref = weakref.ref(later)
        del later
        gc.collect()
        assert later_ref() is None  # garbage made after startup is collected as ever
        assert startup_ref() is not None  # frozen: no pass walks it
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert startup_ref() is None  # given back: a stopped app's cycles are collectable
