"""Adjustments (调差) resolving discrepancies, their approval, ageing, the audit chain (pure).

Every open discrepancy is resolved with a reason and an ACTION:

| action | effect |
|---|---|
| ``accept_channel`` | the channel's figure stands: a payment or refund line the channel |
|   | settled is corrected through the gateway (``corrects_payment``; its PaymentCorrected |
|   | posts the money); any other discrepancy posts the difference (DiscrepancyResolved) |
| ``accept_ours`` | our figure stands: the difference goes to reconciliation differences |
| ``write_off`` | the difference is written off to reconciliation differences |
| ``link`` | the line and a record elsewhere are the same money (``linked_ref``): no posting |
| ``wait`` | wait for a later statement: stays unresolved (a later run may clear it) |

The adjustment amount is what the channel's clearing account needs so the books agree with
the channel: + (line − record) for payments, the reverse for refunds; fee mismatches move
nothing here (the settlement journal books the statement's fees). Above
``approval_threshold_fen`` a second person with the ``finance-approver`` role, never the
requester, approves before anything is posted.

Ageing: priority ``critical`` from ``critical_fen`` (100,000.00 CNY) or older than
``critical_age_days`` (5), ``high`` from ``high_fen`` (10,000.00 CNY) or older than
``high_age_days`` (2), else ``normal``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

GENESIS_HASH: Final = "0" * 64


class Action(StrEnum):
    """How a discrepancy is resolved."""

    ACCEPT_CHANNEL = "accept_channel"
    ACCEPT_OURS = "accept_ours"
    WRITE_OFF = "write_off"
    LINK = "link"
    WAIT = "wait"


POSTING_ACTIONS: Final = frozenset({Action.ACCEPT_CHANNEL, Action.ACCEPT_OURS, Action.WRITE_OFF})
CORRECTED_OUTCOMES: Final = frozenset({"amount_mismatch", "status_mismatch", "channel_only"})


class Priority(StrEnum):
    """The service level of an open discrepancy."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


@dataclass(frozen=True, kw_only=True)
class AgeingPolicy:
    """Named thresholds of the ageing priorities."""

    critical_fen: int = 10_000_000
    critical_age_days: int = 5
    high_fen: int = 1_000_000
    high_age_days: int = 2
    stale_age_days: int = 7  # the "older than 7 days" figure

    def priority(self, amount_fen: int, recon_date: date, today: date) -> Priority:
        """The priority of an open discrepancy of ``amount_fen`` found for ``recon_date``."""
        age_days = (today - recon_date).days
        if abs(amount_fen) >= self.critical_fen or age_days > self.critical_age_days:
            return Priority.CRITICAL
        if abs(amount_fen) >= self.high_fen or age_days > self.high_age_days:
            return Priority.HIGH
        return Priority.NORMAL


def adjustment_fen(discrepancy: dict[str, Any]) -> int:
    """What the channel's clearing account needs (signed fen), from a discrepancy row."""
    outcome = discrepancy["outcome"]
    line = discrepancy["line_amount_fen"] or 0
    record = discrepancy["record_amount_fen"] or 0
    if outcome == "fee_mismatch":
        return 0
    if outcome == "status_mismatch":
        line = line if discrepancy["line_status"] == "succeeded" else 0
        record = record if discrepancy["record_status"] == "succeeded" else 0
    if outcome == "channel_only":
        record = 0
    if outcome == "internal_only":
        line = 0
    difference = int(line) - int(record)
    return -difference if discrepancy["kind"] == "refund" else difference


def amount_at_stake_fen(discrepancy: dict[str, Any]) -> int:
    """The money a discrepancy puts at risk (for ageing and money at risk): the adjustment's
    size, or the fee difference of a fee mismatch."""
    if discrepancy["outcome"] == "fee_mismatch":
        return abs(int(discrepancy["line_fee_fen"] or 0) - int(discrepancy["record_fee_fen"] or 0))
    return abs(adjustment_fen(discrepancy))


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON."""
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def first_broken(entries: list[dict[str, Any]], start_hash: str = GENESIS_HASH) -> int | None:
    """The seq of the first entry whose link or hash does not verify, or None."""
    prev = start_hash
    for entry in entries:
        body = {k: v for k, v in entry.items() if k not in ("seq", "prev_hash", "hash")}
        if entry["prev_hash"] != prev or chain_hash(prev, body) != entry["hash"]:
            return int(entry["seq"])
        prev = entry["hash"]
    return None


def corrects_payment(discrepancy: dict[str, Any]) -> bool:
    """Whether accepting the channel corrects our payment (or refund) through the gateway: a
    payment line the channel settled (succeeded) that we hold with another amount, not
    succeeded (failed, closed) or not at all (a channel-only line: paying, unknown, or never
    ours — then it is parked); a refund line the channel refunded with another amount than
    our refund (more, or less: the refund is corrected to the channel's amount; 0 is refused,
    ``refunds_nothing``) or that we do not hold as succeeded at all (a channel-only line: the
    refund is processing or unknown at the gateway, or never ours — then it is parked). Fee
    mismatches, internal-only records, a channel that says a payment or refund we hold as
    succeeded failed, refunds we hold as failed, and groups post the adjustment journal."""
    if discrepancy.get("match_group") or discrepancy["line_status"] != "succeeded":
        return False
    if discrepancy["kind"] == "payment":
        return discrepancy["outcome"] in CORRECTED_OUTCOMES
    line, record = discrepancy["line_amount_fen"] or 0, discrepancy["record_amount_fen"] or 0
    outcome = discrepancy["outcome"]
    return (outcome == "amount_mismatch" and line != record) or outcome == "channel_only"


def refunds_nothing(discrepancy: dict[str, Any]) -> bool:
    """A refund line of 0 fen against our refund: the channel refunded nothing, which is no
    refund to correct ours to (accept_channel refuses it; accept ours or write it off)."""
    return discrepancy["kind"] == "refund" and not discrepancy["line_amount_fen"]


def correction_body(
    discrepancy: dict[str, Any],
    adjustment: dict[str, Any],
    line: dict[str, Any] | None,
    *,
    approved_by: str | None,
    refund_id: str | None,
) -> dict[str, Any]:
    """The gateway's correction request for an accept_channel adjustment (``refund_id``: the
    refund of ours a refund line corrects)."""
    assert (refund_id is not None) == (discrepancy["kind"] == "refund"), "a refund line names one"
    return {
        "adjustment_id": str(adjustment["adjustment_id"]),
        "discrepancy_id": str(discrepancy["discrepancy_id"]),
        "source": discrepancy["source"],
        "channel_status": "succeeded",
        "channel_amount_fen": int(discrepancy["line_amount_fen"]),
        "adjustment_fen": int(adjustment["adjustment_fen"]),
        "channel_txn_id": (line or {}).get("channel_txn_id") or None,
        "channel_completed_at": line["occurred_at"].isoformat() if line else None,
        "reason": adjustment["reason"],
        "requested_by": adjustment["requested_by"],
        "approved_by": approved_by,
        "refund_id": refund_id,
    }
