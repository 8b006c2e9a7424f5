"""The command line offers the shared commands and recon-daily."""

from __future__ import annotations

import pytest

from recon_service.entrypoints.cli import main


def test_help_lists_recon_daily_with_the_shared_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    usage = capsys.readouterr().out.split("positional arguments", 1)[0]  # may wrap
    assert exited.value.code == 0
    offered = set(usage.split("{", 1)[1].split("}", 1)[0].split(","))
    assert offered == {
        "api",
        "relay",
        "consumer",
        "worker",
        "migrate",
        "retention",
        "recon-daily",
    }


def test_recon_daily_refuses_a_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["recon-daily", "--date", "2024-13-01"])

    assert exited.value.code == 2
    assert "--date" in capsys.readouterr().err
