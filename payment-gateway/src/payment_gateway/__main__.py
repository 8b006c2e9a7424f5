"""``python -m payment_gateway api|relay|consumer|worker|migrate``."""

from otd_shared.cli import main
from payment_gateway.bootstrap import ENTRY

main(ENTRY)
