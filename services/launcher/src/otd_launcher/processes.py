"""Child processes of the launcher: start in their own process group, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT_S = 10.0


@dataclass
class Child:
    """One service process."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the process with stdout/stderr appended to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  (our own python, fixed module names)
            [sys.executable, *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def exited(self) -> int | None:
        """The exit code if the process has ended."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """SIGTERM the process group (no orphans)."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)

    def wait_or_kill(self) -> None:
        """Wait for the exit, SIGKILL the group after the timeout."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
