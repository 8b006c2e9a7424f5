"""``python -m finance_console api``: serve the console on HOST:PORT (default 8080)."""

import argparse

import uvicorn

from finance_console.bootstrap import create_app
from finance_console.config import ConsoleSettings


def main() -> None:
    """Parse the command and serve."""
    parser = argparse.ArgumentParser(prog="finance_console")
    parser.add_argument("command", nargs="?", default="api", choices=["api"])
    parser.parse_args()
    settings = ConsoleSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


main()
