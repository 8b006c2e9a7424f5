"""Alembic environment: the shared one (schema and URL come from the caller); after the
revisions it brings the statement-source CHECK constraint in line with the channel catalogue."""

from otd_shared.migrations import run_env
from recon_service.adapters.reference_data import sync_source_check

run_env(after_upgrade=sync_source_check)
