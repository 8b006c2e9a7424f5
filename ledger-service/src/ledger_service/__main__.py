"""``python -m ledger_service api|relay|consumer|worker|migrate|sap-post``."""

from ledger_service.entrypoints.cli import main

main()
