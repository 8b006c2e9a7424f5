"""``python -m order_service api|relay|consumer|worker|migrate``."""

from order_service.bootstrap import ENTRY
from otd_shared.cli import main

main(ENTRY)
