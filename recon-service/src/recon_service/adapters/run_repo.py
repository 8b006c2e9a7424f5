"""SQL of reconciliation runs: the set-based matching of one statement against recon's
projection of internal records, the run row, the day's current run, the discrepancies.

Matching is a few set-based steps in the run's transaction, each into a session-local
staging table (``ON COMMIT DROP``) that is ANALYZEd before the next step reads it, so the
planner knows the real sizes and hash-joins (the rules are described in ``domain/recon.py``):

1. ``m_lines``: the statement's lines with their identity key (``o:<out_trade_no>``, else
   ``t:<channel_txn_id>``, else ``r:<out_refund_no>``) and rank among lines of the same kind,
   key and amount (what names an unpaired line); status ``closed`` counts as ``failed``.
2. ``m_judged``: records another day's current run already judged (anything but carried
   over), read through those runs' primary key.
3. ``m_records``: internal records of the channel in the run window, minus the judged ones.
4. ``m_pairs``, rule by rule in ``RULES_IN_ORDER`` over what earlier rules left: for each key
   rule (channel_txn_id, then out_trade_no) equal amounts by rank, then groups (one line and
   several records or several lines and one record of a key whose amounts add up), then the
   rest by rank of amount; then amount + time for the sources that use it.
   Every pair carries the columns its result needs of its line and record.
5. Results, from the pairs alone and the free lines and records: a pair is status_mismatch,
   amount_mismatch (not within a group), fee_mismatch (our fee or the contracted rate) or
   matched, in that order; an unpaired line is
   channel_only (unsettled when it moved no money); an unpaired succeeded record of the day
   or before is carried_over or internal_only. Records after the day that did not pair
   belong to the next day's run.

Every result carries a ``discrepancy_key`` that does not depend on the run, so re-running a
day finds the same discrepancies again instead of new ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recon_service.adapters.tables import (
    SCHEMA,
    discrepancies,
    recon_days,
    recon_results,
    recon_runs,
    statement_lines,
    statements,
)
from recon_service.domain.recon import DISCREPANCIES, PPM, RULES_IN_ORDER, MatchRule, RunWindow

_S: Final = SCHEMA
# Session-local staging tables of one run (dropped at commit or rollback).
# A million-line day sorts and hashes about 150 MB per step: in memory, not in temp files.
STAGING_WORK_MEM: Final = "256MB"
# A statement line's status as matching reads it (closed counts as failed), and its identity
# key (o: our trade number, else t: the channel's id, else r: the refund number); also how a
# matched result's line status and match key are read back (``results``).
_LINE_STATUS: Final = "CASE l.status WHEN 'closed' THEN 'failed' ELSE l.status END"
_LINE_MATCH_KEY: Final = """CASE WHEN l.out_trade_no IS NOT NULL THEN 'o:' || l.out_trade_no
            WHEN l.channel_txn_id IS NOT NULL THEN 't:' || l.channel_txn_id
            ELSE 'r:' || l.out_refund_no END"""
_STAGE: Final = (
    # The statement's lines (upload-exception duplicates left out) with their identity key;
    # with the rank among all lines of the same kind, key and amount it names an unpaired
    # line.
    f"""
CREATE TEMP TABLE m_lines ON COMMIT DROP AS
SELECT l.line_no, l.kind, l.amount_fen, l.fee_fen, l.occurred_at,
       l.out_trade_no, l.channel_txn_id,
       {_LINE_STATUS} AS status,
       {_LINE_MATCH_KEY} AS match_key
FROM {_S}.statement_lines l
WHERE l.statement_id = :statement_id
  AND NOT EXISTS (SELECT 1 FROM {_S}.upload_exceptions x
                  WHERE x.statement_id = l.statement_id AND x.line_no = l.line_no)
""",  # noqa: S608
    "ANALYZE m_lines",
    # Records another day's current run already judged (only runs whose window can hold
    # this run's candidates: days from first_day − 1 to day + carry_over_days + 1).
    f"""
CREATE TEMP TABLE m_judged ON COMMIT DROP AS
SELECT DISTINCT r.record_kind, r.record_ref
FROM {_S}.recon_days d
JOIN {_S}.recon_results r ON r.run_id = d.current_run_id
WHERE d.source = :source AND d.recon_date <> :day
  AND d.recon_date BETWEEN :judged_from AND :judged_until
  AND r.record_ref IS NOT NULL AND r.outcome <> 'carried_over'
""",  # noqa: S608
    "ANALYZE m_judged",
    # Candidates: the channel's records in the window not judged elsewhere
    # (business_date is the Shanghai day of completed_at, so late ones are of day + 1).
    f"""
CREATE TEMP TABLE m_records ON COMMIT DROP AS
SELECT i.kind, i.ref_id, i.order_id, i.method, i.status, i.out_trade_no, i.channel_txn_id,
       i.amount_fen, i.fee_fen, i.completed_at, i.business_date
FROM {_S}.internal_records i
WHERE i.channel = :source
  AND i.business_date BETWEEN :first_day AND :day_after
  AND (i.business_date <= :day
       OR (i.completed_at >= :next_day_start AND i.completed_at < :late_until))
  AND NOT EXISTS (SELECT 1 FROM m_judged j WHERE j.record_kind = i.kind AND j.record_ref = i.ref_id)
""",  # noqa: S608
    "ANALYZE m_records",
    # Every pair carries what its result needs of its line and record, so the results are
    # written from the pairs alone (no join of a million pairs back to lines and records).
    """
CREATE TEMP TABLE m_pairs (
    line_no integer NOT NULL, record_kind text NOT NULL, record_ref text NOT NULL,
    match_rule text NOT NULL, match_group text,
    kind text NOT NULL, match_key text, line_amount_fen bigint NOT NULL,
    line_fee_fen bigint NOT NULL, line_status text NOT NULL, order_id text NOT NULL,
    method text NOT NULL, record_amount_fen bigint NOT NULL, record_fee_fen bigint,
    record_status text NOT NULL
) ON COMMIT DROP
""",
)
_PAIR_COLUMNS: Final = """line_no, record_kind, record_ref, match_rule, match_group, kind,
    match_key, line_amount_fen, line_fee_fen, line_status, order_id, method, record_amount_fen,
    record_fee_fen, record_status"""
# What a pair's line (l) and record (r) subqueries must offer beside their keys.
_LINE_CARRIES: Final = "l.match_key, l.fee_fen, l.status"
_RECORD_CARRIES: Final = "r.order_id, r.method, r.fee_fen, r.status"


def _pair_values(rule: str, group: str = "NULL") -> str:
    """The ``_PAIR_COLUMNS`` of a pair of line ``l`` and record ``r``."""
    return f"""l.line_no, r.kind, r.ref_id, {rule}, {group}, l.kind, l.match_key, l.amount_fen,
    l.fee_fen, l.status, r.order_id, r.method, r.amount_fen, r.fee_fen, r.status"""


_PAIRED: Final = """
gone_lines AS (DELETE FROM m_free_lines f USING new WHERE f.line_no = new.line_no)
DELETE FROM m_free_records f USING new
WHERE f.kind = new.record_kind AND f.ref_id = new.record_ref
"""


def _pairing(insert: str) -> str:
    """An INSERT into ``m_pairs`` whose new pairs also leave the free lines and records."""
    return f"WITH new AS ({insert} RETURNING line_no, record_kind, record_ref),{_PAIRED}"


def _exact(key: str, lines: str, records: str) -> str:
    """Equal kind, key and amount, by rank of time (``lines``/``records``: the tables)."""
    return f"""
INSERT INTO m_pairs ({_PAIR_COLUMNS})
SELECT {_pair_values(f"'{key}'")}
FROM (SELECT l.line_no, l.kind, l.{key} AS k, l.amount_fen, {_LINE_CARRIES},
             row_number() OVER (PARTITION BY l.kind, l.{key}, l.amount_fen
                                ORDER BY l.occurred_at, l.line_no) AS n
      FROM {lines} l WHERE l.{key} IS NOT NULL) l
JOIN (SELECT r.kind, r.ref_id, r.{key} AS k, r.amount_fen, {_RECORD_CARRIES},
             row_number() OVER (PARTITION BY r.kind, r.{key}, r.amount_fen
                                ORDER BY r.completed_at, r.ref_id) AS n
      FROM {records} r WHERE r.{key} IS NOT NULL) r
  ON r.kind = l.kind AND r.k = l.k AND r.amount_fen = l.amount_fen AND r.n = l.n"""  # noqa: S608


def _free(key: str) -> str:
    """The free lines with a value of ``key`` and the free records sharing one."""
    return f"""
WITH fl AS (SELECT l.line_no, l.kind, l.{key} AS k, l.amount_fen, l.occurred_at, l.match_key,
                   l.fee_fen, l.status
            FROM m_free_lines l WHERE l.{key} IS NOT NULL),
fr AS (SELECT r.kind, r.ref_id, r.{key} AS k, r.amount_fen, r.completed_at, r.order_id,
              r.method, r.fee_fen, r.status
       FROM m_free_records r
       WHERE r.{key} IS NOT NULL
         AND EXISTS (SELECT 1 FROM fl WHERE fl.kind = r.kind AND fl.k = r.{key}))"""  # noqa: S608


def _group(key: str) -> str:
    """One line and several records of a key (or several lines and one record), all of
    one status, whose amounts add up (within the tolerance): paired as one group."""
    return f"""
INSERT INTO m_pairs ({_PAIR_COLUMNS})
{_free(key)},
gl AS (SELECT kind, k, count(*) AS n, sum(amount_fen) AS fen, min(status) AS status
       FROM fl GROUP BY kind, k HAVING count(DISTINCT status) = 1),
gr AS (SELECT kind, k, count(*) AS n, sum(amount_fen) AS fen, min(status) AS status
       FROM fr GROUP BY kind, k HAVING count(DISTINCT status) = 1),
g AS (SELECT gl.kind, gl.k FROM gl JOIN gr ON gr.kind = gl.kind AND gr.k = gl.k
      WHERE gl.status = gr.status AND abs(gl.fen - gr.fen) <= :tolerance_fen
        AND least(gl.n, gr.n) = 1 AND greatest(gl.n, gr.n) >= 2)
SELECT {_pair_values(f"'{key}'", f"'G:' || g.kind || ':{key}:' || g.k")}
FROM g
JOIN fl l ON l.kind = g.kind AND l.k = g.k
JOIN fr r ON r.kind = g.kind AND r.k = g.k"""  # noqa: S608


def _rest(key: str) -> str:
    """What is left of a key, by rank of amount (partial refunds pair where they can)."""
    return f"""
INSERT INTO m_pairs ({_PAIR_COLUMNS})
{_free(key)}
SELECT {_pair_values(f"'{key}'")}
FROM (SELECT fl.*, row_number() OVER (PARTITION BY fl.kind, fl.k
                                      ORDER BY fl.amount_fen, fl.occurred_at, fl.line_no) AS n
      FROM fl) l
JOIN (SELECT fr.*, row_number() OVER (PARTITION BY fr.kind, fr.k
                                      ORDER BY fr.amount_fen, fr.completed_at, fr.ref_id) AS n
      FROM fr) r
  ON r.kind = l.kind AND r.k = l.k AND r.n = l.n"""  # noqa: S608


# After the first exact step (on the whole tables), what is still free is copied once; every
# later step reads only the free lines and records and takes its pairs out of them.
_FREE_TABLES: Final = (
    """
CREATE TEMP TABLE m_free_lines ON COMMIT DROP AS
SELECT l.* FROM m_lines l WHERE NOT EXISTS (SELECT 1 FROM m_pairs p WHERE p.line_no = l.line_no)
""",
    """
CREATE TEMP TABLE m_free_records ON COMMIT DROP AS
SELECT r.* FROM m_records r
WHERE NOT EXISTS (SELECT 1 FROM m_pairs p WHERE p.record_kind = r.kind AND p.record_ref = r.ref_id)
""",
    "ANALYZE m_free_lines",
    "ANALYZE m_free_records",
)

# Lines no id paired, of a source paired by amount: equal kind and amount, by rank of time,
# when the record completed within the window of the line's time; money that moved only.
_AMOUNT_TIME: Final = f"""
INSERT INTO m_pairs ({_PAIR_COLUMNS})
SELECT {_pair_values("'amount_time'")}
FROM (SELECT l.line_no, l.kind, l.amount_fen, l.occurred_at, {_LINE_CARRIES},
             row_number() OVER (PARTITION BY l.kind, l.amount_fen
                                ORDER BY l.occurred_at, l.line_no) AS n
      FROM m_free_lines l WHERE l.status = 'succeeded') l
JOIN (SELECT r.kind, r.ref_id, r.amount_fen, r.completed_at, {_RECORD_CARRIES},
             row_number() OVER (PARTITION BY r.kind, r.amount_fen
                                ORDER BY r.completed_at, r.ref_id) AS n
      FROM m_free_records r WHERE r.status = 'succeeded') r
  ON r.kind = l.kind AND r.amount_fen = l.amount_fen AND r.n = l.n
 AND r.completed_at BETWEEN l.occurred_at - CAST(:amount_window AS interval)
                        AND l.occurred_at + CAST(:amount_window AS interval)"""  # noqa: S608


def _unless_matched(value: str) -> str:
    """``value`` for a pair's result, null when it matched (``_read_back`` reads it back)."""
    return f"CASE WHEN p.outcome = 'matched' THEN NULL ELSE {value} END"


# The results: pairs (a group's amounts were checked as a group), unpaired lines, unpaired
# records of the day or before; the statement answers the count per outcome. A payment
# line's fee is checked against the contracted rate of the record's method when there is one.
# A matched pair leaves out what its line and record say (``_READ_BACK``): most of a
# million-line run's results are matched, and those columns were 40 % of their bytes.
_RESULTS: Final = f"""
WITH written AS (
INSERT INTO {_S}.recon_results (
    run_id, source, recon_date, outcome, kind, match_key, statement_id, line_no, record_kind,
    record_ref, order_id, line_amount_fen, record_amount_fen, line_fee_fen, record_fee_fen,
    line_status, record_status, discrepancy_key, match_rule, match_group)
SELECT CAST(:run_id AS uuid), CAST(:source AS text), CAST(:day AS date), p.outcome,
       p.kind, {_unless_matched("p.match_key")}, CAST(:statement_id AS uuid), p.line_no,
       p.record_kind, p.record_ref, {_unless_matched("p.order_id")}, p.line_amount_fen,
       p.record_amount_fen, p.line_fee_fen, p.record_fee_fen,
       {_unless_matched("p.line_status")}, {_unless_matched("p.record_status")},
       {_unless_matched("'P:' || p.record_kind || ':' || p.record_ref")},
       p.match_rule, p.match_group
FROM (SELECT p.*,
             CASE WHEN p.line_status <> p.record_status THEN 'status_mismatch'
                  WHEN p.match_group IS NULL
                       AND abs(p.line_amount_fen - p.record_amount_fen) > :tolerance_fen
                       THEN 'amount_mismatch'
                  WHEN (p.match_group IS NULL AND p.record_fee_fen IS NOT NULL
                        AND p.line_fee_fen <> p.record_fee_fen)
                    OR (p.kind = 'payment' AND f.ppm IS NOT NULL
                        AND p.line_fee_fen <> (p.line_amount_fen * f.ppm + {PPM // 2}) / {PPM})
                       THEN 'fee_mismatch'
                  ELSE 'matched' END AS outcome
      FROM m_pairs p
      LEFT JOIN (SELECT unnest(CAST(:rate_methods AS text[])) AS method,
                        unnest(CAST(:rate_ppm AS bigint[])) AS ppm) f
        ON f.method = p.method) p
UNION ALL
SELECT CAST(:run_id AS uuid), CAST(:source AS text), CAST(:day AS date),
       CASE WHEN l.status = 'succeeded' THEN 'channel_only' ELSE 'unsettled' END,
       l.kind, l.match_key, CAST(:statement_id AS uuid), l.line_no, NULL, NULL, NULL,
       l.amount_fen, NULL, l.fee_fen, NULL, l.status, NULL,
       'L:' || l.kind || ':' || l.match_key || ':' || l.amount_fen || ':' || l.same_amount_no,
       NULL, NULL
FROM (SELECT l.*, row_number() OVER (PARTITION BY l.kind, l.match_key, l.amount_fen
                                     ORDER BY l.occurred_at, l.line_no) AS same_amount_no
      FROM m_lines l
      WHERE EXISTS (SELECT 1 FROM m_free_lines f WHERE f.kind = l.kind
                    AND f.match_key = l.match_key AND f.amount_fen = l.amount_fen)) l
WHERE EXISTS (SELECT 1 FROM m_free_lines f WHERE f.line_no = l.line_no)
UNION ALL
SELECT CAST(:run_id AS uuid), CAST(:source AS text), CAST(:day AS date),
       CASE WHEN r.completed_at >= ((r.business_date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
                                   - CAST(:cut_grace AS interval)
             AND CAST(:day AS date) - r.business_date < :carry_over_days
            THEN 'carried_over' ELSE 'internal_only' END,
       r.kind, 'o:' || r.out_trade_no, NULL, NULL, r.kind, r.ref_id, r.order_id,
       NULL, r.amount_fen, NULL, r.fee_fen, NULL, r.status,
       'I:' || r.kind || ':' || r.ref_id,
       NULL, NULL
FROM m_free_records r
WHERE r.status = 'succeeded' AND r.business_date <= :day
RETURNING outcome)
SELECT outcome, count(*) FROM written GROUP BY outcome
"""  # noqa: S608


def _read_back(column: str, derived: str) -> str:
    """A result's ``column``; for a matched one (which left it out, ``_unless_matched``)
    ``derived`` from its statement line (l) or record (i)."""
    return f"CASE WHEN r.outcome = 'matched' THEN {derived} ELSE r.{column} END AS {column}"


# A run's results with what a matched one left out read back: its match key and statuses
# from the line (matched: the record's status is the line's), its order from the record. A
# page of results joins a page of lines and records by their primary keys.
_READ_BACK: Final = f"""
SELECT r.outcome, r.kind, {_read_back("match_key", _LINE_MATCH_KEY)},
       r.statement_id, r.line_no, r.record_kind, r.record_ref,
       {_read_back("order_id", "i.order_id")},
       r.line_amount_fen, r.record_amount_fen, r.line_fee_fen, r.record_fee_fen,
       {_read_back("line_status", _LINE_STATUS)}, {_read_back("record_status", _LINE_STATUS)},
       r.match_rule, r.match_group
FROM (SELECT * FROM {_S}.recon_results r
      WHERE r.run_id = :run_id AND (CAST(:outcome AS text) IS NULL OR r.outcome = :outcome)
      ORDER BY r.result_no LIMIT :limit OFFSET :offset) r
LEFT JOIN {_S}.statement_lines l ON l.statement_id = r.statement_id AND l.line_no = r.line_no
LEFT JOIN {_S}.internal_records i ON i.kind = r.record_kind AND i.ref_id = r.record_ref
ORDER BY r.result_no
"""  # noqa: S608


def match_steps(window: RunWindow) -> tuple[str, ...]:
    """The statements of one run's matching, in order (rules in ``RULES_IN_ORDER``)."""
    first, *others = (rule.value for rule in RULES_IN_ORDER if rule is not MatchRule.AMOUNT_TIME)
    steps = [_exact(first, "m_lines", "m_records"), "ANALYZE m_pairs", *_FREE_TABLES]
    steps += [_pairing(_group(first)), _pairing(_rest(first))]
    for key in others:
        steps += [_pairing(step) for step in (_exact(key, "m_free_lines", "m_free_records"),
                                              _group(key), _rest(key))]  # fmt: skip
    if window.amount_time_window is not None:
        steps.append(_pairing(_AMOUNT_TIME))
    return (*_STAGE, *steps, _RESULTS)


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A finished reconciliation run."""

    run_id: uuid.UUID
    source: str
    recon_date: date
    statement_id: uuid.UUID
    requested_by: str
    counts: dict[str, int]
    settled_fen: int  # net to our bank: gross − fees
    fee_fen: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    gross_fen: int = 0
    statement_version: int | None = None
    inputs_digest: str | None = None  # what the run read (RunRepository.inputs_digest)
    unchanged: bool = False  # answered by the day's current run: nothing it read had changed


# What a run reads beside its statement's lines and the policy: the upload exceptions of the
# statement, the channel's records in the window (their count and row versions: any insert or
# update changes the sum of xmin) and the current runs of the days whose results it consults.
_INPUTS: Final = f"""
SELECT
  (SELECT count(*) FROM {_S}.upload_exceptions x WHERE x.statement_id = :statement_id),
  (SELECT count(*) || ':' || coalesce(sum(CAST(CAST(i.xmin AS text) AS bigint)), 0)
   FROM {_S}.internal_records i
   WHERE i.channel = :source AND i.business_date BETWEEN :first_day AND :day_after),
  (SELECT coalesce(string_agg(d.recon_date || '=' || d.current_run_id, ','
                              ORDER BY d.recon_date), '')
   FROM {_S}.recon_days d
   WHERE d.source = :source AND d.recon_date <> :day
     AND d.recon_date BETWEEN :judged_from AND :judged_until)
"""  # noqa: S608


class RunRepository:
    """Runs, their results and the discrepancies, inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_source(self, source: str) -> None:
        """Serialise runs of one source (days of a source see each other's results)."""
        key = sa.func.hashtext(f"recon-run:{source}")
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def latest_statement(self, source: str, day: date) -> tuple[uuid.UUID, int] | None:
        """(id, version) of the statement a run of (source, day) reconciles: the latest."""
        query = (
            sa.select(statements.c.statement_id, statements.c.version)
            .where(statements.c.source == source, statements.c.statement_date == day)
            .order_by(statements.c.version.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).first()
        return None if row is None else (row.statement_id, row.version)

    async def inputs_digest(self, run: RunRecord, window: RunWindow) -> str:
        """A digest of everything a run of ``run``'s statement under ``window`` reads: the
        statement (its lines never change), its upload exceptions, the channel's records in
        the window, the neighbouring days' current runs, the window's policy and the matching
        SQL itself. Read before the matching: a change committed after this read makes the
        next run's digest differ, so it is never missed (at worst a run is redone)."""
        params = _match_params(run, window)
        exceptions, records, judged = (
            await self._session.execute(sa.text(_INPUTS), _used(_INPUTS, params))
        ).one()
        policy = json.dumps(dataclasses.asdict(window), default=str, sort_keys=True)
        parts = (str(run.statement_id), str(exceptions), str(records), str(judged), policy,
                 *match_steps(window))  # fmt: skip
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    async def current_run(self, source: str, day: date) -> RunRecord | None:
        """The day's current run (the latest that finished), if any."""
        query = (
            sa.select(recon_runs)
            .join(recon_days, recon_days.c.current_run_id == recon_runs.c.run_id)
            .where(recon_days.c.source == source, recon_days.c.recon_date == day)
        )
        row = (await self._session.execute(query)).first()
        return None if row is None else RunRecord(**row._mapping)

    async def match(self, run: RunRecord, window: RunWindow) -> dict[str, int]:
        """Insert the run row and its results; returns the count per outcome."""
        await self._session.execute(
            sa.insert(recon_runs).values(
                run_id=run.run_id,
                source=run.source,
                recon_date=run.recon_date,
                statement_id=run.statement_id,
                requested_by=run.requested_by,
                counts={},
                settled_fen=0,
                fee_fen=0,
                inputs_digest=run.inputs_digest,
            )
        )
        params = _match_params(run, window)
        await self._session.execute(sa.text(f"SET LOCAL work_mem = '{STAGING_WORK_MEM}'"))
        *steps, results = match_steps(window)
        for step in steps:
            await self._session.execute(sa.text(step), _used(step, params))
        # The results' INSERT answers the count per outcome (no second scan of them).
        rows = await self._session.execute(sa.text(results), _used(results, params))
        return {str(outcome): int(count) for outcome, count in rows.all()}

    async def settlement(self, statement_id: uuid.UUID) -> tuple[int, int]:
        """(gross, fees) of the statement's succeeded lines, in fen: gross is payments −
        refunds before fees; the bank receives gross − fees."""
        t = statement_lines
        signed = sa.case((t.c.kind == "refund", -t.c.amount_fen), else_=t.c.amount_fen)
        row = (
            await self._session.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(signed), 0),
                    sa.func.coalesce(sa.func.sum(t.c.fee_fen), 0),
                ).where(t.c.statement_id == statement_id, t.c.status == "succeeded")
            )
        ).one()
        return int(row[0]), int(row[1])

    async def finish(self, run: RunRecord) -> RunRecord:
        """Record the counts, make this run the day's current one, upsert the discrepancies."""
        finished = (
            await self._session.execute(
                sa.update(recon_runs)
                .where(recon_runs.c.run_id == run.run_id)
                .values(
                    counts=run.counts,
                    settled_fen=run.settled_fen,
                    fee_fen=run.fee_fen,
                    gross_fen=run.gross_fen,
                    statement_version=run.statement_version,
                    finished_at=sa.func.now(),
                )
                .returning(recon_runs)
            )
        ).one()
        day = pg_insert(recon_days).values(
            source=run.source, recon_date=run.recon_date, current_run_id=run.run_id
        )
        await self._session.execute(
            day.on_conflict_do_update(
                index_elements=[recon_days.c.source, recon_days.c.recon_date],
                set_={"current_run_id": day.excluded.current_run_id},
            )
        )
        await self._upsert_discrepancies(run)
        return RunRecord(**finished._mapping)

    async def _upsert_discrepancies(self, run: RunRecord) -> None:
        if any(run.counts.get(outcome, 0) for outcome in DISCREPANCIES):
            await self._insert_discrepancies(run)
        await self._clear_discrepancies_not_found(run)

    async def _insert_discrepancies(self, run: RunRecord) -> None:
        """The run's discrepancies (its counts say it has some: a day that matched whole
        skips this read of every result)."""
        r = recon_results
        copied = [c.name for c in r.c if c.name not in ("run_id", "result_no")]
        select = sa.select(
            sa.func.gen_random_uuid(),
            *(r.c[name] for name in copied),
            sa.literal("open"),
            r.c.run_id,
            r.c.run_id,
        ).where(r.c.run_id == run.run_id, r.c.outcome.in_(sorted(DISCREPANCIES)))
        insert = pg_insert(discrepancies).from_select(
            ["discrepancy_id", *copied, "status", "first_run_id", "last_run_id"], select
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                constraint="uq_discrepancies_identity",
                set_={
                    "last_run_id": insert.excluded.last_run_id,
                    # A re-run finds it again: cleared ones reopen, resolutions stand.
                    "status": sa.case(
                        (discrepancies.c.status == "cleared", "open"),
                        else_=discrepancies.c.status,
                    ),
                    "updated_at": sa.func.now(),
                },
            )
        )

    async def _clear_discrepancies_not_found(self, run: RunRecord) -> None:
        """What this run no longer finds is cleared (a late callback, a corrected statement)."""
        await self._session.execute(
            sa.update(discrepancies)
            .where(
                discrepancies.c.source == run.source,
                discrepancies.c.recon_date == run.recon_date,
                discrepancies.c.status.in_(("open", "waiting")),
                discrepancies.c.last_run_id != run.run_id,
            )
            .values(status="cleared", updated_at=sa.func.now())
        )

    async def get(self, run_id: uuid.UUID) -> RunRecord | None:
        """One run."""
        row = (
            await self._session.execute(sa.select(recon_runs).where(recon_runs.c.run_id == run_id))
        ).first()
        return None if row is None else RunRecord(**row._mapping)

    async def runs(
        self, *, source: str | None, recon_date: date | None, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]:
        """Runs, newest day first and the latest run of a day first."""
        conditions = [
            column == value
            for column, value in (
                (recon_runs.c.source, source),
                (recon_runs.c.recon_date, recon_date),
            )
            if value is not None
        ]
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(recon_runs).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(recon_runs)
            .where(*conditions)
            .order_by(
                recon_runs.c.recon_date.desc(),
                recon_runs.c.started_at.desc().nulls_last(),
                recon_runs.c.run_id,
            )
            .limit(limit)
            .offset(offset)
        )
        return [RunRecord(**row._mapping) for row in rows], int(total or 0)

    async def results(
        self, run_id: uuid.UUID, *, outcome: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A run's results (lines and records with what was decided), in result order."""
        r = recon_results
        conditions = [r.c.run_id == run_id]
        if outcome is not None:
            conditions.append(r.c.outcome == outcome)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(r).where(*conditions)
        )
        wanted = {"run_id": run_id, "outcome": outcome, "limit": limit, "offset": offset}
        rows = await self._session.execute(sa.text(_READ_BACK), wanted)
        return [dict(row._mapping) for row in rows], int(total or 0)

    async def discrepancies(
        self,
        *,
        source: str | None,
        recon_date: date | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Discrepancies, newest day first."""
        d = discrepancies
        conditions = []
        for column, value in (
            (d.c.source, source),
            (d.c.recon_date, recon_date),
            (d.c.status, status),
        ):
            if value is not None:
                conditions.append(column == value)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(d).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(d)
            .where(*conditions)
            .order_by(d.c.recon_date.desc(), d.c.source, d.c.created_at, d.c.discrepancy_id)
            .limit(limit)
            .offset(offset)
        )
        return [dict(row._mapping) for row in rows], int(total or 0)


def _match_params(run: RunRecord, window: RunWindow) -> dict[str, object]:
    reach = timedelta(days=window.carry_over_days + 1)
    return {
        "run_id": run.run_id,
        "source": run.source,
        "day": run.recon_date,
        "day_after": run.recon_date + timedelta(days=1),
        "judged_from": window.first_day - timedelta(days=1),
        "judged_until": run.recon_date + reach,
        "statement_id": run.statement_id,
        "first_day": window.first_day,
        "next_day_start": window.next_day_start,
        "late_until": window.late_until,
        "cut_grace": window.cut_grace,
        "carry_over_days": window.carry_over_days,
        "tolerance_fen": window.amount_tolerance_fen,
        "amount_window": window.amount_time_window or timedelta(0),
        "rate_methods": list(window.fee_rate_ppm),
        "rate_ppm": list(window.fee_rate_ppm.values()),
    }


def _used(step: str, params: dict[str, object]) -> dict[str, object]:
    """The bind parameters a step names (a step binds only its own)."""
    return {name: value for name, value in params.items() if re.search(rf":{name}\b", step)}
