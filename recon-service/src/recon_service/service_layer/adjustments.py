"""Resolving discrepancies (调差), the second approver, closing and reopening a source-day.
Every step writes one audit entry (who, when, why, before, after) in the same transaction;
DiscrepancyResolved goes out through the outbox exactly when an adjustment is applied, so the
ledger posts the adjustment journal once (its source id is the event id).

``accept_channel`` for a payment or refund line the channel settled (domain
``corrects_payment``) corrects the payment or refund through the gateway when it is applied
(at once, or at the approval):
the call is made inside the transaction that holds the discrepancy (and adjustment) row
locks, so two resolutions never race; a refusal or an unreachable gateway rolls everything
back (nothing changed, 4xx / 503). The gateway is idempotent by adjustment and by
discrepancy, so a retry after a crash between its commit and ours gets the same correction.
DiscrepancyResolved then names the correction and the ledger posts no adjustment journal:
the gateway's PaymentCorrected carries the money (Dr clearing / Cr customer deposits).
A channel-only line of no payment of ours is parked: refused (409 ``no_payment_to_correct``),
the discrepancy stays open and counts as money at risk; so is a refund line of no refund of
ours (the gateway has none with its refund number: 409 ``no_refund_to_correct``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from otd_shared.events import DiscrepancyResolved
from recon_service.adapters.adjustment_repo import AdjustmentRepository
from recon_service.domain.adjustments import (
    POSTING_ACTIONS,
    Action,
    adjustment_fen,
    correction_body,
    corrects_payment,
    first_broken,
    refunds_nothing,
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
    NoPaymentToCorrect,
    NoRefundToCorrect,
    RefundCorrectedToZero,
)
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

RESOLVABLE = ("open", "waiting")
AUDIT_PAGE_MAX = 10_000


class PaymentCorrector(Protocol):
    """The gateway's payment corrections (adapters/gateway_client.py)."""

    async def payment_id_of(self, out_trade_no: str) -> str | None:
        """The gateway's payment with our trade number, if any."""
        ...

    async def refund_of(self, out_refund_no: str) -> tuple[str, str] | None:
        """``(refund_id, payment_id)`` of the gateway's refund with our refund number, if
        any (a refund of no payment counts as none)."""
        ...

    async def correct(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Resolution:
    """A request to resolve one discrepancy."""

    discrepancy_id: uuid.UUID
    action: Action
    reason: str
    requested_by: str
    linked_ref: str | None = None


async def resolve(
    uow: ReconUnitOfWork,
    request: Resolution,
    *,
    approval_threshold_fen: int,
    corrector: PaymentCorrector,
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
        if held:
            await _check_payment(uow, corrector, found, adjustment)
        else:
            adjustment = await _correct_payment(uow, corrector, found, adjustment, None)
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
    corrector: PaymentCorrector,
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
            decided = await _correct_payment(uow, corrector, discrepancy, decided, approver)
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
            adjustment_id=str(adjustment["adjustment_id"]),
            payment_id=adjustment.get("payment_id"),
            correction_id=adjustment.get("correction_id"),
        )
    )


def _corrected(adjustment: dict[str, Any], discrepancy: dict[str, Any]) -> bool:
    return adjustment["action"] == Action.ACCEPT_CHANNEL.value and corrects_payment(discrepancy)


@dataclass(frozen=True)
class _Target:
    """What an accept_channel corrects at the gateway: a payment, or a refund of it."""

    payment_id: str
    refund_id: str | None
    line: dict[str, Any] | None


async def _check_payment(
    uow: ReconUnitOfWork,
    corrector: PaymentCorrector,
    discrepancy: dict[str, Any],
    adjustment: dict[str, Any],
) -> None:
    """A held accept_channel names a payment (or refund) the gateway has (else it is refused
    now, not at the approval)."""
    if _corrected(adjustment, discrepancy):
        await _target_of(uow, corrector, discrepancy)


async def _correct_payment(
    uow: ReconUnitOfWork,
    corrector: PaymentCorrector,
    discrepancy: dict[str, Any],
    adjustment: dict[str, Any],
    approved_by: str | None,
) -> dict[str, Any]:
    """Correct the payment (or refund) through the gateway for an applied accept_channel
    (audited); the adjustment then names the payment and the correction."""
    if not _corrected(adjustment, discrepancy):
        return adjustment
    target = await _target_of(uow, corrector, discrepancy)
    body = correction_body(
        discrepancy, adjustment, target.line, approved_by=approved_by, refund_id=target.refund_id
    )
    correction = await corrector.correct(target.payment_id, body)
    repo = uow.adjustments
    corrected = await repo.set_correction(
        adjustment["adjustment_id"], target.payment_id, str(correction["correction_id"])
    )
    await repo.audit(
        actor=approved_by or adjustment["requested_by"],
        action="correct_payment",
        subject_kind="payment",
        subject_id=target.payment_id,
        reason=adjustment["reason"],
        before=correction.get("before"),
        after={
            **(correction.get("after") or {}),
            "correction_id": corrected["correction_id"],
            **({"refund_id": target.refund_id} if target.refund_id else {}),
        },
    )
    return corrected


async def _target_of(
    uow: ReconUnitOfWork, corrector: PaymentCorrector, discrepancy: dict[str, Any]
) -> _Target:
    """What the discrepancy's accept_channel corrects, with its statement line."""
    line = await uow.adjustments.line_of(discrepancy["statement_id"], discrepancy["line_no"])
    if discrepancy["kind"] == "refund":
        return await _refund_target(uow, corrector, discrepancy, line)
    return _Target(await _payment_of(corrector, discrepancy, line), None, line)


async def _payment_of(
    corrector: PaymentCorrector, discrepancy: dict[str, Any], line: dict[str, Any] | None
) -> str:
    """Our payment of a payment line: the paired record, else the gateway's payment with the
    line's trade number."""
    if discrepancy["record_kind"] == "payment" and discrepancy["record_ref"]:
        return str(discrepancy["record_ref"])
    out_trade_no = (line or {}).get("out_trade_no")
    payment_id = await corrector.payment_id_of(out_trade_no) if out_trade_no else None
    if payment_id is None:
        raise NoPaymentToCorrect(
            f"no payment of ours has trade number {out_trade_no or '(none on the line)'}: the "
            "line stays open (wait for it, link it, or write it off); nothing is applied to "
            "a guessed billing"
        )
    return payment_id


async def _refund_target(
    uow: ReconUnitOfWork,
    corrector: PaymentCorrector,
    discrepancy: dict[str, Any],
    line: dict[str, Any] | None,
) -> _Target:
    """Our refund of a refund line: the paired record (and its payment), else the gateway's
    refund with the line's refund number (one we hold as processing or unknown)."""
    if refunds_nothing(discrepancy):
        raise RefundCorrectedToZero(
            "the channel's line refunds 0 fen: there is no refund to correct ours to; accept "
            "ours or write it off"
        )
    if discrepancy["record_kind"] == "refund" and discrepancy["record_ref"]:
        refund_id = str(discrepancy["record_ref"])
        payment_id = await uow.adjustments.payment_of_refund(refund_id)
        if payment_id is not None:
            return _Target(payment_id, refund_id, line)
    out_refund_no = (line or {}).get("out_refund_no")
    found = await corrector.refund_of(out_refund_no) if out_refund_no else None
    if found is None:
        raise NoRefundToCorrect(
            f"no refund of ours has refund number {out_refund_no or '(none on the line)'}: "
            "the line stays open (wait for it, link it, or write it off); nothing is applied"
        )
    refund_id, payment_id = found
    return _Target(payment_id, refund_id, line)


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
