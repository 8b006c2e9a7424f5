"""``python -m recon_service api|relay|consumer|worker|migrate|recon-daily``."""

from recon_service.entrypoints.cli import main

main()
