"""``python -m billing_service api|relay|consumer|worker|migrate``."""

from billing_service.bootstrap import ENTRY
from otd_shared.cli import main

main(ENTRY)
