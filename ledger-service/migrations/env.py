"""Alembic environment: the shared one (schema and URL come from the caller)."""

from otd_shared.migrations import run_env

run_env()
