"""``python -m otd_cli`` (bootstrap installs it as ``.venv/bin/otd``)."""

from otd_cli.app import main

main()
