"""Settlements by statement version: a channel's statement of a day may be corrected (a new
version); the books must show each day's settlement once, at the latest version's figures.

The journal of a version is keyed by (channel, day, version) and posts only the difference
between that version's totals and those of the highest version posted before it. A version
that is not newer (a re-run of the same statement, a late older version) posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, kw_only=True)
class SettlementVersion:
    """What one version of a channel's statement of a day settles in total, in fen."""

    channel: str
    statement_date: date
    version: int
    gross_fen: int
    fee_fen: int
    statement_id: str | None = None

    @property
    def source_id(self) -> str:
        """The journal source id of this version (unique: a version posts at most once)."""
        return settlement_source_id(self.channel, self.statement_date, self.version)


@dataclass(frozen=True)
class SettlementDelta:
    """What a version adds to the books: gross and fee differences (may be negative)."""

    gross_fen: int
    fee_fen: int


def settlement_source_id(channel: str, statement_date: date, version: int) -> str:
    """``settlement:<channel>:<yyyy-mm-dd>:v<version>``."""
    return f"settlement:{channel}:{statement_date.isoformat()}:v{version}"


def settlement_delta(
    reported: SettlementVersion, latest: SettlementVersion | None
) -> SettlementDelta | None:
    """The difference to post, or None when ``reported`` is not newer than ``latest``."""
    if latest is not None and reported.version <= latest.version:
        return None
    base_gross, base_fee = (0, 0) if latest is None else (latest.gross_fen, latest.fee_fen)
    return SettlementDelta(reported.gross_fen - base_gross, reported.fee_fen - base_fee)
