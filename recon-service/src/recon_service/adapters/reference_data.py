"""Reference data derived from code, brought up to date on every ``migrate``.

The CHECK constraint on ``statements.source`` lists the statement sources of the channel
catalogue (otd_shared.channels): it is re-created here when the catalogue changed, so a new
channel needs no revision of its own (docs/adding-a-channel.md).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from otd_shared.channels import CATALOGUE, Catalogue, sql_in_list, statement_sources

SOURCE_CHECK_NAME: Final = "ck_statements_source"


def source_check_sql(catalogue: Catalogue = CATALOGUE) -> str:
    """The CHECK expression: ``source IN ('wechatpay',...)``."""
    return f"source IN {sql_in_list(statement_sources(catalogue))}"


def sync_source_check(
    connection: Connection, schema: str, catalogue: Catalogue = CATALOGUE
) -> None:
    """Re-create ``ck_statements_source`` unless it already allows exactly the catalogue's
    statement sources (PostgreSQL keeps the definition normalised, so compare the sources)."""
    wanted = {str(code) for code in statement_sources(catalogue)}
    if _current_sources(connection, schema) == wanted:
        return
    table = f'"{schema}".statements'
    connection.execute(
        sa.text(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {SOURCE_CHECK_NAME}")
    )
    connection.execute(
        sa.text(
            f"ALTER TABLE {table} ADD CONSTRAINT {SOURCE_CHECK_NAME} "
            f"CHECK ({source_check_sql(catalogue)})"
        )
    )


def _current_sources(connection: Connection, schema: str) -> set[str] | None:
    definition = connection.execute(
        sa.text(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = :schema AND t.relname = 'statements' AND c.conname = :name"
        ),
        {"schema": schema, "name": SOURCE_CHECK_NAME},
    ).scalar_one_or_none()
    if definition is None:
        return None
    return set(_quoted_words(str(definition)))


def _quoted_words(definition: str) -> list[str]:
    # "CHECK ((source = ANY (ARRAY['wechatpay'::text, ...])))" → the quoted words.
    return definition.split("'")[1::2]
