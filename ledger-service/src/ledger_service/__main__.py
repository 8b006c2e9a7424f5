"""``python -m ledger_service api|relay|consumer|worker|migrate``."""

from otd_shared.cli import main

from ledger_service.bootstrap import ENTRY

main(ENTRY)
