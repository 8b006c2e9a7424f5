"""``python -m recon_service api|relay|consumer|worker|migrate``."""

from otd_shared.cli import main
from recon_service.bootstrap import ENTRY

main(ENTRY)
