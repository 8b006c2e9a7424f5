"""``python -m billing_service api|relay|consumer|worker|migrate``."""

from otd_shared.cli import main

from billing_service.bootstrap import ENTRY

main(ENTRY)
