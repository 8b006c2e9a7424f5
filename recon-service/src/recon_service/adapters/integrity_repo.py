"""Referential integrity that recon checks instead of enforcing it per row (migrations 0011
and 0012 dropped the foreign keys of results → runs and statement lines → statements, whose
per-row checks cost seconds per million rows; docs/decisions/recon-statements-and-matching.md).

Each check walks the DISTINCT parent ids of the child table by a loose index scan over its
primary key (a recursive CTE: one index probe per distinct id, so its cost grows with the
number of statements or runs, not with the billions of lines) and counts the ids whose
parent row does not exist."""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# (name, child table, child column = first primary-key column, parent table, parent column)
CHECKS: Final = (
    ("statement_lines_without_statement", "statement_lines", "statement_id", "statements",
     "statement_id"),
    ("results_without_run", "recon_results", "run_id", "recon_runs", "run_id"),
)  # fmt: skip


def _orphans_sql(schema: str, child: str, column: str, parent: str, parent_column: str) -> str:
    return f"""
        WITH RECURSIVE ids AS (
            (SELECT {column} AS id FROM {schema}.{child} ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT c.{column} FROM {schema}.{child} c
                    WHERE c.{column} > ids.id ORDER BY c.{column} LIMIT 1)
            FROM ids WHERE ids.id IS NOT NULL
        )
        SELECT count(*) FROM ids
        WHERE ids.id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {schema}.{parent} p WHERE p.{parent_column} = ids.id)
    """  # noqa: S608  (table and schema names are constants)


async def orphan_counts(db: AsyncSession | AsyncConnection, schema: str) -> dict[str, int]:
    """How many distinct parent ids each child table names that do not exist (all 0: fine)."""
    found: dict[str, int] = {}
    for name, child, column, parent, parent_column in CHECKS:
        sql = _orphans_sql(schema, child, column, parent, parent_column)
        found[name] = int(await db.scalar(sa.text(sql)) or 0)
    return found
