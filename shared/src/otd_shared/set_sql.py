"""Many rows in ONE statement: one array per column, spread by ``unnest``.

A list of rows given to ``session.execute(statement, rows)`` is an executemany: one round
trip, but PostgreSQL executes the statement once per row (its executor start, its statement
triggers, its WAL records row by row). The statements here take the rows as arrays instead,
so a batch is one execution and the statement text is the same whatever the batch size (one
prepared statement, compiled once).

Rows are dicts keyed by column name (the keys of the row dicts the callers already build);
a key matched on in an UPDATE is given as ``b_<column>``, as the executemany forms named it.
Only plain column types go through arrays (no JSON: asyncpg would need them encoded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

MATCH_PREFIX: Final = "b_"
_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_rows(table: sa.Table, columns: Sequence[str], *, suffix: str = "") -> sa.TextClause:
    """INSERT of the rows given as arrays (``arrays``), in their order (identity values
    follow it); ``suffix``: an ON CONFLICT clause."""
    names = ", ".join(columns)
    return sa.text(
        f"INSERT INTO {table.fullname} ({names})\n"  # noqa: S608  (our own names)
        f"SELECT {names} FROM {_unnest(table, columns, ordinality=True)}\n"
        f"ORDER BY n {suffix}"
    )


def update_rows(table: sa.Table, match: Sequence[str], columns: Sequence[str]) -> sa.TextClause:
    """UPDATE of one row per element: the row whose ``match`` columns equal the elements'
    ``b_<column>`` gets the elements' ``columns``. A key given twice updates its row once
    (unlike an executemany): callers pass each row once."""
    keys = [f"{MATCH_PREFIX}{m}" for m in match]
    types = {f"{MATCH_PREFIX}{m}": table.c[m] for m in match} | {c: table.c[c] for c in columns}
    sets = ", ".join(f"{c} = u.{c}" for c in columns)
    where = " AND ".join(f"t.{m} = u.{k}" for m, k in zip(match, keys, strict=True))
    return sa.text(
        f"UPDATE {table.fullname} AS t SET {sets}\n"  # noqa: S608  (our own names)
        f"FROM {_unnest_typed(types)}\nWHERE {where}"
    )


def arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of ``insert_rows``/``update_rows``: one list per column."""
    return {column: [row[column] for row in rows] for column in columns}


def _unnest(table: sa.Table, columns: Sequence[str], *, ordinality: bool = False) -> str:
    return _unnest_typed({c: table.c[c] for c in columns}, ordinality=ordinality)


def _unnest_typed(columns: Mapping[str, sa.Column[Any]], *, ordinality: bool = False) -> str:
    casts = ", ".join(f"CAST(:{name} AS {_array_of(col)})" for name, col in columns.items())
    names = ", ".join(columns) + (", n" if ordinality else "")
    return f"unnest({casts}) {'WITH ORDINALITY ' if ordinality else ''}AS u({names})"


def _array_of(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.JSON):
        raise TypeError(f"{column.name}: JSON columns do not go through arrays here")
    return f"{column.type.compile(dialect=_DIALECT)}[]"
