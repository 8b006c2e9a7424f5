"""What a person sees from the launcher: the URLs, where tokens, users and logs are."""

from __future__ import annotations

import pytest

from otd_shared.testing.cluster import RunningCluster

pytestmark = pytest.mark.e2e
MAX_SUMMARY_LINES = 20


def test_the_terminal_gets_the_summary_and_the_details_go_to_the_log(
    running_cluster: RunningCluster,
) -> None:
    printed = (running_cluster.var_dir / "launcher.log").read_text()
    lines = [line for line in printed.splitlines() if line.strip()]
    assert len(lines) <= MAX_SUMMARY_LINES, printed
    assert "OTD Pay is up:" in printed
    for name, url in running_cluster.urls.items():
        assert f"{name:16} {url}" in printed
    assert str(running_cluster.var_dir / "console-users.json") in printed
    assert str(running_cluster.var_dir / "dev-tokens.json") in printed
    assert "HTTP Request" not in printed
    detailed = (running_cluster.var_dir / "logs" / "launcher.log").read_text()
    assert "HTTP Request" in detailed  # the readiness probes, kept out of the terminal
