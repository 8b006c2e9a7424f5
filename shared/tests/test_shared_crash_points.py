"""Test-only crash points (otd_shared.crash_points): off by default, fire once, for the
armed consumer group only, and end the process without unwinding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from otd_shared.crash_points import ENV, EXIT_CODE, arm, crash_point, fired

POINT = "consumer_after_db_commit"
CALL = (
    "from otd_shared.crash_points import crash_point; "
    "crash_point({point!r}, {who!r}); print('alive')"
)


def _run(tmp_path: Path, who: str, *, env_set: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop(ENV, None)
    if env_set:
        env[ENV] = str(tmp_path)
    return subprocess.run(  # noqa: S603  (our own interpreter)
        [sys.executable, "-c", CALL.format(point=POINT, who=who)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_unarmed_or_unset_points_do_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    crash_point(POINT, "billing-service.payments")  # no directory: returns
    monkeypatch.setenv(ENV, str(tmp_path))
    crash_point(POINT, "billing-service.payments")  # nothing armed: returns
    arm(tmp_path, POINT, "ledger-service")
    crash_point(POINT, "billing-service.payments")  # armed for another group: returns
    assert fired(tmp_path, POINT) is None
    assert (tmp_path / POINT).exists()


def test_an_armed_point_ends_the_first_matching_process_once(tmp_path: Path) -> None:
    arm(tmp_path, POINT, "billing-service")
    assert _run(tmp_path, "chaos.billing-service.payments", env_set=False).stdout == "alive\n"
    crashed = _run(tmp_path, "chaos.billing-service.payments")
    assert crashed.returncode == EXIT_CODE
    assert crashed.stdout == "", "ended before the next statement"
    assert fired(tmp_path, POINT) == "chaos.billing-service.payments"
    again = _run(tmp_path, "chaos.billing-service.payments")
    assert (again.returncode, again.stdout) == (0, "alive\n"), "fires once"


def test_only_known_points_can_be_armed(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        arm(tmp_path, "somewhere_else", "billing-service")
