"""Run the whole test suite; fail when it fails or when no test ran.

pytest exits 5 when it collects nothing; that is a failure here, never a pass.
"""

from __future__ import annotations

import subprocess
import sys

NO_TESTS_COLLECTED = 5


def main() -> int:
    """Run pytest with the given extra arguments."""
    args = [sys.executable, "-m", "pytest", "-q", *sys.argv[1:]]
    code = subprocess.call(args)  # noqa: S603  (our own interpreter and arguments)
    if code == NO_TESTS_COLLECTED:
        print("no tests were collected: failing the run", file=sys.stderr)  # noqa: T201
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
