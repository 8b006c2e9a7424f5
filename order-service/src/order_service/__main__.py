"""``python -m order_service api|relay|consumer|worker|migrate``."""

from otd_shared.cli import main

from order_service.bootstrap import ENTRY

main(ENTRY)
