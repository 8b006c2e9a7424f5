"""Resolving discrepancies (调差), the second approver, closing and reopening a source-day.
Every step writes one audit entry (who, when, why, before, after) in the same transaction;
DiscrepancyResolved goes out through the outbox exactly when an adjustment is applied, so the
ledger posts the adjustment journal once (its source id is the event id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from otd_shared.events import DiscrepancyResolved
from recon_service.adapters.adjustment_repo import AdjustmentRepository
from recon_service.domain.adjustments import (
    POSTING_ACTIONS,
    Action,
    adjustment_fen,
    first_broken,
)
from recon_service.domain.errors import (
    AdjustmentNotFound,
    AdjustmentNotPending,
    ApproverIsRequester,
    DayClosed,
    DayHasOpenDiscrepancies,
    DayNotClosed,
    DiscrepancyNotFound,
    DiscrepancyNotOpen,
    LinkedRefMissing,
)
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

RESOLVABLE = ("open", "waiting")
AUDIT_PAGE_MAX = 10_000


@dataclass(frozen=True)
class Resolution:
    """A request to resolve one discrepancy."""

    discrepancy_id: uuid.UUID
    action: Action
    reason: str
    requested_by: str
    linked_ref: str | None = None


async def resolve(
    uow: ReconUnitOfWork, request: Resolution, *, approval_threshold_fen: int
) -> dict[str, Any]:
    """Record the adjustment; apply it at once, or hold it for a second approver above the
    threshold. ``wait`` marks the discrepancy waiting (nothing posted)."""
    if request.action is Action.LINK and not request.linked_ref:
        raise LinkedRefMissing("linked_ref", "is required to link a discrepancy")
    async with uow:
        repo = uow.adjustments
        found = await repo.discrepancy_for_update(request.discrepancy_id)
        if found is None:
            raise DiscrepancyNotFound(f"discrepancy {request.discrepancy_id} not found")
        if found["status"] not in RESOLVABLE:
            raise DiscrepancyNotOpen(f"the discrepancy is {found['status']}")
        await _refuse_closed(repo, found["source"], found["recon_date"])
        amount = adjustment_fen(found) if request.action in POSTING_ACTIONS else 0
        held = request.action is not Action.WAIT and abs(amount) > approval_threshold_fen
        adjustment = await repo.add(
            {
                "adjustment_id": uuid.uuid4(),
                "discrepancy_id": found["discrepancy_id"],
                "source": found["source"],
                "recon_date": found["recon_date"],
                "action": request.action.value,
                "reason": request.reason,
                "linked_ref": request.linked_ref,
                "adjustment_fen": amount,
                "status": "pending_approval" if held else "applied",
                "requested_by": request.requested_by,
            }
        )
        status = _discrepancy_status(request.action, held)
        await repo.set_discrepancy_status(found["discrepancy_id"], status)
        await repo.audit(
            actor=request.requested_by,
            action=f"resolve:{request.action.value}",
            subject_kind="discrepancy",
            subject_id=str(found["discrepancy_id"]),
            reason=request.reason,
            before={"status": found["status"]},
            after={"status": status, "adjustment": _brief(adjustment)},
        )
        if not held:
            await _emit_resolved(uow, found, adjustment, approved_by=None)
        await uow.commit()
    return adjustment


def _discrepancy_status(action: Action, held: bool) -> str:
    if action is Action.WAIT:
        return "waiting"
    return "pending_approval" if held else "resolved"


async def decide(
    uow: ReconUnitOfWork,
    adjustment_id: uuid.UUID,
    *,
    approve: bool,
    approver: str,
    reason: str | None,
) -> dict[str, Any]:
    """The second approver approves (applied, posted) or rejects (the discrepancy reopens)."""
    async with uow:
        repo = uow.adjustments
        found = await repo.for_update(adjustment_id)
        if found is None:
            raise AdjustmentNotFound(f"adjustment {adjustment_id} not found")
        if found["status"] != "pending_approval":
            raise AdjustmentNotPending(f"the adjustment is {found['status']}")
        if found["requested_by"] == approver:
            raise ApproverIsRequester("the approver must be another person than the requester")
        decided = await repo.decide(
            adjustment_id, "applied" if approve else "rejected", approver, reason
        )
        discrepancy = await repo.discrepancy_for_update(found["discrepancy_id"])
        assert discrepancy is not None
        status = "resolved" if approve else "open"
        await repo.set_discrepancy_status(found["discrepancy_id"], status)
        await repo.audit(
            actor=approver,
            action="approve" if approve else "reject",
            subject_kind="adjustment",
            subject_id=str(adjustment_id),
            reason=reason,
            before={"status": found["status"]},
            after={"status": decided["status"], "discrepancy_status": status},
        )
        if approve:
            await _emit_resolved(uow, discrepancy, decided, approved_by=approver)
        await uow.commit()
    return decided


async def _emit_resolved(
    uow: ReconUnitOfWork,
    discrepancy: dict[str, Any],
    adjustment: dict[str, Any],
    *,
    approved_by: str | None,
) -> None:
    """DiscrepancyResolved (the ledger posts the adjustment journal once) for money moves."""
    if adjustment["action"] not in POSTING_ACTIONS or adjustment["adjustment_fen"] == 0:
        return
    await uow.emit(
        DiscrepancyResolved(
            discrepancy_id=str(discrepancy["discrepancy_id"]),
            source=discrepancy["source"],
            kind=f"{discrepancy['outcome']}:{adjustment['action']}",
            adjustment_fen=adjustment["adjustment_fen"],
            order_id=discrepancy["order_id"],
            resolved_by=adjustment["requested_by"],
            approved_by=approved_by,
            reason=adjustment["reason"],
        )
    )


def _brief(adjustment: dict[str, Any]) -> dict[str, Any]:
    keys = ("adjustment_id", "action", "adjustment_fen", "status", "linked_ref")
    return {k: adjustment[k] for k in keys}


async def _refuse_closed(repo: AdjustmentRepository, source: str, day: date) -> None:
    closure = await repo.closure(source, day)
    if closure is not None and closure["status"] == "closed":
        raise DayClosed(f"{source} {day.isoformat()} is closed; reopen it first")


async def close_day(uow: ReconUnitOfWork, source: str, day: date, by: str) -> dict[str, Any]:
    """Close a source-day: only when nothing is open, waiting or pending approval."""
    async with uow:
        repo = uow.adjustments
        await _refuse_closed(repo, source, day)
        unresolved = await repo.unresolved_count(source, day)
        if unresolved:
            raise DayHasOpenDiscrepancies(
                f"{unresolved} discrepancies of {source} {day.isoformat()} are not resolved"
            )
        closed = await repo.close(source, day, by)
        await repo.audit(
            actor=by, action="close", subject_kind="recon_day",
            subject_id=f"{source}:{day.isoformat()}", reason=None,
            before=None, after={"status": "closed"},
        )  # fmt: skip
        await uow.commit()
    return closed


async def reopen_day(
    uow: ReconUnitOfWork, source: str, day: date, by: str, reason: str
) -> dict[str, Any]:
    """Reopen a closed day (finance-approver, with a reason)."""
    async with uow:
        repo = uow.adjustments
        closure = await repo.closure(source, day)
        if closure is None or closure["status"] != "closed":
            raise DayNotClosed(f"{source} {day.isoformat()} is not closed")
        reopened = await repo.reopen(source, day, by, reason)
        await repo.audit(
            actor=by, action="reopen", subject_kind="recon_day",
            subject_id=f"{source}:{day.isoformat()}", reason=reason,
            before={"status": "closed"}, after={"status": "reopened"},
        )  # fmt: skip
        await uow.commit()
    return reopened


async def verify_audit(uow: ReconUnitOfWork, *, page: int = 1_000) -> dict[str, Any]:
    """Walk the whole chain; the first entry that does not verify, if any."""
    checked, after_seq, prev = 0, 0, None
    async with uow:
        repo = uow.adjustments
        prev = await repo.hash_before(0)
        while True:
            entries = await repo.audit_entries(subject_id=None, after_seq=after_seq, limit=page)
            if not entries:
                break
            broken = first_broken(entries, prev)
            if broken is not None:
                return {"ok": False, "entries": checked, "first_broken_seq": broken}
            checked += len(entries)
            after_seq, prev = int(entries[-1]["seq"]), entries[-1]["hash"]
    return {"ok": True, "entries": checked, "first_broken_seq": None}
