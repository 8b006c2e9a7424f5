"""`python -m channel_sandbox [api]`: serve the sandbox on HOST:PORT (default 127.0.0.1:8010)."""

from __future__ import annotations

import argparse

import uvicorn

from channel_sandbox.app import create_app
from channel_sandbox.config import SandboxSettings


def main() -> None:
    """Parse the command and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="channel_sandbox", description=__doc__)
    parser.add_argument("command", nargs="?", default="api", choices=["api"])
    parser.parse_args()
    settings = SandboxSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
