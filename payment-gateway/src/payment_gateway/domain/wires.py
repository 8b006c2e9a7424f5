"""Wires (bank transfers): auto-match rules, claim allocations, approval and ageing (pure).

Every transfer is booked on arrival to suspense; a claim moves (part of) it to a billing.

Auto-match: the rules run in the configured order; the first rule that finds exactly one
open billing claims the whole transfer for it and is recorded as the claim's rule. A rule
that finds several candidates sends the transfer to the claim queue (never a guess).

| rule                 | a billing is a candidate when                                         |
|----------------------|-----------------------------------------------------------------------|
| last4_exact_amount   | a registered payer account of its customer ends in the payer's last 4  |
|                      | and what is left to pay equals the amount                              |
| last4_tolerance      | as above, with |left − amount| ≤ the tolerance                         |
| memo_order_id        | the memo names the billing's order id (a UUID, with or without dashes)  |
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from otd_shared.errors import InvalidInput

MATCH_RULES: Final = ("last4_exact_amount", "last4_tolerance", "memo_order_id")
DEFAULT_MATCH_RULES: Final = ("last4_exact_amount", "last4_tolerance", "memo_order_id")
MANUAL_RULE: Final = "manual"
ALLOCATIONS_MAX: Final = 20
# Ageing buckets of what stays unclaimed in suspense: (label, first day, last day or None).
AGEING_BUCKETS: Final = (("0-3", 0, 3), ("4-7", 4, 7), ("8-30", 8, 30), (">30", 31, None))


class ClaimStatus(StrEnum):
    """Where a claim of (part of) a wire is."""

    PENDING_APPROVAL = "pending_approval"
    CLAIMED = "claimed"
    REJECTED = "rejected"
    UNCLAIMED = "unclaimed"


@dataclass(frozen=True)
class Candidate:
    """An open billing a transfer might pay."""

    billing_id: uuid.UUID
    order_id: uuid.UUID
    left_fen: int  # outstanding minus what succeeded since billing last told us
    last4_registered: bool


@dataclass(frozen=True)
class MatchRules:
    """The configured rules (order matters) and the amount tolerance."""

    rules: tuple[str, ...] = DEFAULT_MATCH_RULES
    tolerance_fen: int = 0

    def __post_init__(self) -> None:
        unknown = [r for r in self.rules if r not in MATCH_RULES]
        if unknown:
            raise ValueError(f"unknown wire match rules {unknown}; known: {list(MATCH_RULES)}")
        if self.tolerance_fen < 0:
            raise ValueError("the wire match tolerance must be >= 0 fen")


@dataclass(frozen=True)
class MatchResult:
    """The billing the transfer is claimed for (and by which rule), or why it is queued."""

    candidate: Candidate | None
    rule: str | None
    queue_reason: str | None


def match(
    amount_fen: int, memo: str, candidates: Sequence[Candidate], rules: MatchRules
) -> MatchResult:
    """Apply the rules in order (see the module docstring)."""
    for rule in rules.rules:
        found = [c for c in candidates if _fits(rule, c, amount_fen, memo, rules.tolerance_fen)]
        if len(found) == 1:
            return MatchResult(candidate=found[0], rule=rule, queue_reason=None)
        if len(found) > 1:
            return MatchResult(None, None, f"{len(found)} open billings fit rule {rule}")
    return MatchResult(None, None, "no open billing fits the payer's last 4 and the amount")


def _fits(rule: str, c: Candidate, amount_fen: int, memo: str, tolerance_fen: int) -> bool:
    if c.left_fen <= 0:
        return False
    match rule:
        case "last4_exact_amount":
            return c.last4_registered and c.left_fen == amount_fen
        case "last4_tolerance":
            return c.last4_registered and abs(c.left_fen - amount_fen) <= tolerance_fen
        case "memo_order_id":
            return str(c.order_id) in memo or c.order_id.hex in memo.lower()
        case _:
            raise ValueError(f"unknown wire match rule {rule!r}")


@dataclass(frozen=True)
class Allocation:
    """One part of a wire claimed for one billing."""

    billing_id: uuid.UUID
    amount_fen: int


def check_allocations(allocations: Sequence[Allocation], unallocated_fen: int) -> int:
    """The total of a claim's allocations; InvalidInput when it exceeds what is left."""
    if not 1 <= len(allocations) <= ALLOCATIONS_MAX:
        raise InvalidInput(f"a claim has 1 to {ALLOCATIONS_MAX} allocations", field="allocations")
    billing_ids = [a.billing_id for a in allocations]
    if len(set(billing_ids)) != len(billing_ids):
        raise InvalidInput("each billing appears once in a claim", field="allocations")
    total_fen = sum(a.amount_fen for a in allocations)
    if total_fen > unallocated_fen:
        raise InvalidInput(
            f"the claim ({total_fen} fen) exceeds what is unclaimed on the wire "
            f"({unallocated_fen} fen)",
            field="allocations",
        )
    return total_fen


def needs_second_approver(total_fen: int, threshold_fen: int) -> bool:
    """A manual claim above the threshold waits for a finance-approver."""
    return total_fen > threshold_fen


def ageing_bucket(value_date: date, today: date) -> str:
    """The ageing bucket of a wire that arrived on ``value_date``."""
    days = max((today - value_date).days, 0)
    for label, first, last in AGEING_BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    raise AssertionError("the buckets cover every age")
