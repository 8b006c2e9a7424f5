"""Test-only crash points: end the process at a named moment of the consumer runtime.

Off unless ``OTD_CRASH_POINTS_DIR`` names a directory (never set in production; the chaos
test sets it). A test arms a point by writing a file named after it into that directory,
holding a substring of the consumer group that must crash (e.g. ``billing-service``). The
first process of that group to pass the point claims the file (an atomic rename to
``<point>.fired``, holding the group id) and ends at once with ``os._exit``: no ``finally``,
no offset commit, no goodbye to the broker, as a SIGKILL at that instant would. The process
supervisor (the launcher with ``OTD_RESTART_CHILDREN=1``) starts it again.

Points (``otd_shared.consumer``):

- ``consumer_before_db_commit``: a partition batch applied inside its transaction, not yet
  committed (PostgreSQL rolls it back when the connection drops);
- ``consumer_after_db_commit``: the batch committed in the database, its offsets not
  committed to the broker (the batch is delivered again; the inbox must absorb it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

ENV: Final = "OTD_CRASH_POINTS_DIR"
POINTS: Final = ("consumer_before_db_commit", "consumer_after_db_commit")
EXIT_CODE: Final = 70


def crash_point(point: str, who: str) -> None:
    """End the process here if ``point`` is armed for ``who`` (a consumer group id)."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    armed = Path(directory) / point
    with contextlib.suppress(OSError):
        if armed.read_text().strip() in who:
            fired = armed.with_name(point + ".fired")
            armed.rename(fired)  # only one process wins the rename
            fired.write_text(who)
            os._exit(EXIT_CODE)


def arm(directory: Path, point: str, target: str) -> None:
    """Arm ``point`` for the consumer groups whose id contains ``target`` (tests)."""
    assert point in POINTS, point
    tmp = directory / f".{point}.tmp"
    tmp.write_text(target)
    tmp.replace(directory / point)


def fired(directory: Path, point: str) -> str | None:
    """The group id that crashed at ``point``, or None while it has not fired (tests)."""
    path = directory / f"{point}.fired"
    with contextlib.suppress(OSError):
        return path.read_text() or None
    return None
