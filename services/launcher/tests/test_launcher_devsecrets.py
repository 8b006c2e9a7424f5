"""Console users under var/ (README.md): one per role, kept between runs, private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from otd_launcher.devsecrets import ensure_console_users


def test_one_user_per_console_role_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "console-users.json"
    first = ensure_console_users(path)
    assert set(first) == {"finance", "finance-approver", "cashier", "marketing"}
    assert all(set(u) == {"username", "password"} for u in first.values())
    assert len({u["username"] for u in first.values()}) == 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_console_users(path) == first
    assert json.loads(path.read_text()) == first


def test_a_missing_role_is_added_without_touching_the_others(tmp_path: Path) -> None:
    path = tmp_path / "console-users.json"
    path.write_text(json.dumps({"finance": {"username": "li", "password": "kept"}}))
    users = ensure_console_users(path)
    assert users["finance"] == {"username": "li", "password": "kept"}
    assert set(users) == {"finance", "finance-approver", "cashier", "marketing"}
