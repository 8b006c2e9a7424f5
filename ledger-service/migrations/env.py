"""Alembic environment: the shared one (schema and URL come from the caller); after the
revisions it opens the channel catalogue's clearing and fee accounts."""

from ledger_service.adapters.reference_data import open_catalogue_accounts
from otd_shared.migrations import run_env

run_env(after_upgrade=open_catalogue_accounts)
