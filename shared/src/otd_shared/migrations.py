"""Alembic, the same way in every service: one schema each, its own version table.

A service's ``migrations/env.py`` is two lines (``run_env()``); ``upgrade_head`` runs
them programmatically (the ``migrate`` command, the launcher, the tests).

After the versioned revisions, the shared repeatable steps run in the same transaction
(idempotent DDL every service needs and no revision owns): the outbox NOTIFY trigger
that wakes the relay and the BRIN indexes the retention job deletes by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from otd_shared.db import asyncpg_url
from otd_shared.messaging_tables import messaging_tables
from otd_shared.outbox import outbox_notify_sql

VERSION_TABLE = "alembic_version"
RETENTION_INDEXES_SQL = (
    'CREATE INDEX IF NOT EXISTS ix_inbox_processed_brin ON "{schema}".inbox '
    "USING brin (processed_at)",
    'CREATE INDEX IF NOT EXISTS ix_outbox_created_brin ON "{schema}".outbox '
    "USING brin (created_at)",
)
"""BRIN: a few pages per table, nearly free to maintain on append-mostly rows in time order."""


def alembic_config(migrations_dir: Path, database_url: str, schema: str) -> Config:
    """An Alembic config pointing at a service's migrations and schema."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = asyncpg_url(database_url)
    config.attributes["schema"] = schema
    return config


def upgrade_head(migrations_dir: Path, database_url: str, schema: str) -> None:
    """Migrate the schema to the newest revision (blocking; call via a thread in async code)."""
    command.upgrade(alembic_config(migrations_dir, database_url, schema), "head")


async def upgrade_head_async(migrations_dir: Path, database_url: str, schema: str) -> None:
    """``upgrade_head`` from async code (Alembic's env runs its own event loop)."""
    await asyncio.to_thread(upgrade_head, migrations_dir, database_url, schema)


# Runs after the revisions, in their transaction, on every upgrade (also when already at head):
# reference data derived from code (the channel catalogue) is brought up to date here instead
# of in one revision per change. It must be idempotent.
AfterUpgrade = Callable[[Connection, str], None]


def run_env(after_upgrade: AfterUpgrade | None = None) -> None:
    """The body of every service's ``migrations/env.py`` (online mode, asyncpg)."""
    config = context.config
    url: str = config.attributes["database_url"]
    schema: str = config.attributes["schema"]
    asyncio.run(_run_online(url, schema, after_upgrade))


async def _run_online(url: str, schema: str, after_upgrade: AfterUpgrade | None) -> None:
    engine = create_async_engine(url, hide_parameters=True)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(_run_sync, schema, after_upgrade)
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, schema: str, after_upgrade: AfterUpgrade | None) -> None:
    context.configure(
        connection=connection,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():
        context.get_context().opts["otd_schema"] = schema
        context.run_migrations()
        _repeatable_steps(connection, schema)
        if after_upgrade is not None:
            after_upgrade(connection, schema)


def _repeatable_steps(connection: Connection, schema: str) -> None:
    """Idempotent DDL after the revisions (only once the schema has its outbox)."""
    has_outbox = connection.scalar(sa.text("SELECT to_regclass(:t)"), {"t": f'"{schema}".outbox'})
    if has_outbox is None:
        return
    indexes = [statement.format(schema=schema) for statement in RETENTION_INDEXES_SQL]
    for statement in [*outbox_notify_sql(schema), *indexes]:
        connection.execute(sa.text(statement))


def current_schema() -> str:
    """The schema being migrated (for use inside revision scripts)."""
    return str(context.config.attributes["schema"])


def create_messaging_tables(op: Operations, schema: str) -> None:
    """Create outbox, inbox and dead_letters in ``schema`` (called by a first revision)."""
    metadata = sa.MetaData(schema=schema)
    tables = messaging_tables(metadata)
    bind = op.get_bind()
    for table in (tables.outbox, tables.inbox, tables.dead_letters):
        table.create(bind)
