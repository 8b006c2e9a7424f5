"""Schemathesis against a running service's OpenAPI (tests/hostile, ``make fuzz``).

``run_schemathesis`` runs the ``st`` command line on one service with one bearer token (or
none) and the checks that must always hold: no 5xx, every answer matches its documented
status, schema and content type. The budget comes from the environment so CI runs a short
one and ``make fuzz`` a long one; the seed is printed and ``OTD_FUZZ_SEED`` replays it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ALWAYS_CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
SHORT_EXAMPLES = 3
SHORT_MAX_TIME_S = 8
SHORT_REFUSED_MAX_TIME_S = 4
"""CI's budget: seconds per service and pass (a refused caller's pass is shorter)."""
OUTPUT_TAIL_CHARS = 6000


@dataclass(frozen=True)
class FuzzBudget:
    """How much schemathesis generates per service and pass."""

    max_examples: int
    max_time_s: int
    phases: str

    @classmethod
    def from_env(cls, *, refused: bool = False) -> FuzzBudget:
        """``OTD_FUZZ_EXAMPLES`` / ``OTD_FUZZ_MAX_TIME_S`` / ``OTD_FUZZ_PHASES``; short by
        default (CI: the fuzzing phase only; ``make fuzz`` adds the coverage phase).
        ``refused``: the pass of a caller without the right role (every answer is a
        401/403/422), shorter still."""
        short_s = SHORT_REFUSED_MAX_TIME_S if refused else SHORT_MAX_TIME_S
        return cls(
            max_examples=int(os.environ.get("OTD_FUZZ_EXAMPLES", SHORT_EXAMPLES)),
            max_time_s=int(os.environ.get("OTD_FUZZ_MAX_TIME_S", short_s)),
            phases=os.environ.get("OTD_FUZZ_PHASES", "fuzzing"),
        )


@dataclass(frozen=True)
class FuzzResult:
    """The command's exit code and the tail of its report."""

    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        """True when schemathesis found no failure."""
        return self.returncode == 0


def _st_command() -> list[str]:
    beside = Path(sys.executable).with_name("st")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("st")
    assert found is not None, "schemathesis (st) is not installed"
    return [found]


def run_schemathesis(
    base_url: str,
    *,
    token: str | None,
    budget: FuzzBudget,
    exclude_path_regex: str | None = None,
) -> FuzzResult:
    """Fuzz one service's OpenAPI at ``base_url`` (loopback only) with one token or none."""
    assert base_url.startswith("http://127.0.0.1:"), "fuzzing targets the local cluster only"
    command = [
        *_st_command(),
        "run",
        base_url + "/openapi.json",
        "--checks",
        ALWAYS_CHECKS,
        "--phases",
        budget.phases,
        "--max-examples",
        str(budget.max_examples),
        "--max-time",
        str(budget.max_time_s),
        "--generation-allow-x00",
        "true",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    if exclude_path_regex is not None:
        command += ["--exclude-path-regex", exclude_path_regex]
    seed = os.environ.get("OTD_FUZZ_SEED")
    if seed:
        command += ["--seed", seed]
    done = subprocess.run(  # noqa: S603  (our own venv's schemathesis against loopback)
        command,
        capture_output=True,
        text=True,
        timeout=budget.max_time_s * 4 + 60,
        check=False,
    )
    return FuzzResult(done.returncode, (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:])
