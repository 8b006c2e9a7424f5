"""Run the whole test suite; fail when it fails or when no test ran.

pytest exits 5 when it collects nothing; that is a failure here, never a pass.
The console's browser tests need Debian's chromium at /usr/bin/chromium: when it is
missing and we run as root (CI on a fresh machine), it is installed with apt-get first;
otherwise those tests fail with the install command (they never skip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

NO_TESTS_COLLECTED = 5
CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """``apt-get install chromium`` when the browser is missing and we may install it."""
    if CHROMIUM.is_file() or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    print("installing Debian's chromium for the browser tests", file=sys.stderr)  # noqa: T201
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)  # noqa: S607
    subprocess.run(  # noqa: S603
        ["apt-get", "install", "-y", "-q", "chromium"],  # noqa: S607
        check=True,
        env=env,
    )


def main() -> int:
    """Run pytest with the given extra arguments."""
    ensure_chromium()
    args = [sys.executable, "-m", "pytest", "-q", *sys.argv[1:]]
    code = subprocess.call(args)  # noqa: S603  (our own interpreter and arguments)
    if code == NO_TESTS_COLLECTED:
        print("no tests were collected: failing the run", file=sys.stderr)  # noqa: T201
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
