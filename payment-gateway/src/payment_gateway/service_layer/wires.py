"""Wires: payer accounts, intake (API batch or bank statement file), auto-match, the claim
queue (manual claims, split, second approver, reject, unclaim) and its ageing.

Ledger: every transfer is booked on arrival (WireReceived: Dr bank / Cr suspense); a claim
moves its amount to the order (WireClaimed: Dr suspense / Cr deposits) and pays the billing
(PaymentCallback ``wire``); an unclaim reverses both (PaymentCallback ``reversed``: Dr deposits
/ Cr suspense). What is never claimed stays in suspense and ages.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from otd_shared.channels import ChannelCode
from otd_shared.errors import Conflict, DomainError, NotFound
from otd_shared.events import WireClaimed, WireReceived
from payment_gateway.adapters.wire_repo import Wire, WireClaim, WireSearch
from payment_gateway.domain import wires as rules
from payment_gateway.domain.masking import MaskedAccount, mask_account
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.domain.wires import Allocation, ClaimStatus, MatchRules
from payment_gateway.errors import IllegalTransition
from payment_gateway.service_layer import offline_payments
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
AUTO_ACTOR = "auto-match"
WIRE_METHOD = "bank_transfer"
_UUID_RE = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE
)


@dataclass(frozen=True)
class Transfer:
    """One statement line of an incoming transfer (validated at the edge)."""

    bank_reference: str
    bank_account: str
    payer_name: str
    payer_account: str
    amount_fen: int
    value_date: date
    memo: str


@dataclass(frozen=True)
class IntakeResult:
    """What intake did with one transfer."""

    bank_reference: str
    status: str  # matched | queued | duplicate
    wire_id: uuid.UUID
    billing_id: uuid.UUID | None = None
    rule: str | None = None


class SameApprover(Conflict):
    """The second approver of a wire claim must be someone else than who claimed it."""

    code = "same_approver"


def match_rules(gw: Gateway) -> MatchRules:
    """The configured auto-match rules."""
    settings = gw.settings
    return MatchRules(tuple(settings.wire_match_rules), settings.wire_match_tolerance_fen)


# --- payer accounts ---------------------------------------------------------------------


async def register_payer_accounts(
    gw: Gateway, customer_id: str, accounts: Sequence[str], actor: str
) -> list[str]:
    """Replace the customer's cards and accounts (stored masked); returns them masked."""
    masked = [mask_account(a, field=f"accounts[{i}]") for i, a in enumerate(accounts)]
    async with gw.uow() as uow:
        await uow.wires.replace_payer_accounts(customer_id, masked, actor=actor, now=gw.now())
        stored = await uow.wires.payer_accounts(customer_id)
        await uow.commit()
    return stored


async def payer_accounts(gw: Gateway, customer_id: str) -> list[str]:
    """The customer's registered accounts, masked."""
    async with gw.uow() as uow:
        return await uow.wires.payer_accounts(customer_id)


# --- intake -----------------------------------------------------------------------------


async def intake(gw: Gateway, transfers: Sequence[Transfer], *, source: str) -> list[IntakeResult]:
    """Each transfer in its own transaction: stored once by bank reference, booked to
    suspense, then auto-matched or queued."""
    results = []
    for transfer in transfers:
        results.append(await _intake_one(gw, transfer, source=source))
    return results


async def _intake_one(gw: Gateway, transfer: Transfer, *, source: str) -> IntakeResult:
    payer = mask_account(transfer.payer_account, field="payer_account")
    now = gw.now()
    async with gw.uow() as uow:
        wire = _new_wire(transfer, payer, source=source, now=now)
        if not await uow.wires.add(wire, now=now):
            return await _duplicate(uow, transfer.bank_reference)
        await uow.emit(
            WireReceived(
                wire_id=str(wire.wire_id),
                bank_account=wire.bank_account,
                payer_name=wire.payer_name,
                payer_account_last4=wire.payer_last4,
                amount_fen=wire.amount_fen,
                received_at=now,
            )
        )
        result = await _auto_match(gw, uow, wire, now=now)
        await uow.commit()
    gw.metrics.wires.labels(result.status).inc()
    return result


def _new_wire(transfer: Transfer, payer: MaskedAccount, *, source: str, now: datetime) -> Wire:
    return Wire(
        wire_id=uuid.uuid4(),
        bank_reference=transfer.bank_reference,
        bank_account=transfer.bank_account,
        payer_name=transfer.payer_name,
        payer_account_masked=payer.masked,
        payer_last4=payer.last4,
        amount_fen=transfer.amount_fen,
        allocated_fen=0,
        value_date=transfer.value_date,
        memo=transfer.memo,
        source=source,
        match_rule=None,
        queue_reason=None,
        received_at=now,
    )


async def _duplicate(uow: GatewayUnitOfWork, bank_reference: str) -> IntakeResult:
    known = await uow.wires.by_reference(bank_reference)
    assert known is not None, "a conflicting bank reference exists"
    claims = await uow.wires.claims_of(wire_id=known.wire_id)
    billing_id = next((c.billing_id for c in claims if c.status is ClaimStatus.CLAIMED), None)
    return IntakeResult(bank_reference, "duplicate", known.wire_id, billing_id)


async def _auto_match(
    gw: Gateway, uow: GatewayUnitOfWork, wire: Wire, *, now: datetime
) -> IntakeResult:
    order_ids = [uuid.UUID(m.group(0)) for m in _UUID_RE.finditer(wire.memo)]
    candidates = await uow.wires.candidates(wire.payer_last4, order_ids)
    found = rules.match(wire.amount_fen, wire.memo, candidates, match_rules(gw))
    if found.candidate is None or found.rule is None:
        reason = found.queue_reason or "no match"
        await uow.wires.set_queue_reason(wire.wire_id, reason, now=now)
        return IntakeResult(wire.bank_reference, "queued", wire.wire_id)
    allocation = Allocation(found.candidate.billing_id, wire.amount_fen)
    try:
        async with uow.session.begin_nested():
            await _claim_now(gw, uow, wire, allocation, rule=found.rule, actor=AUTO_ACTOR, now=now)
    except DomainError as exc:  # the billing changed under us: a person decides
        await uow.wires.set_queue_reason(wire.wire_id, f"match refused: {exc}", now=now)
        return IntakeResult(wire.bank_reference, "queued", wire.wire_id)
    return IntakeResult(
        wire.bank_reference, "matched", wire.wire_id, found.candidate.billing_id, found.rule
    )


# --- claims -----------------------------------------------------------------------------


async def _claim_now(
    gw: Gateway,
    uow: GatewayUnitOfWork,
    wire: Wire,
    allocation: Allocation,
    *,
    rule: str,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
) -> WireClaim:
    """Allocate, record the claim, pay the billing and move the money out of suspense."""
    if not await uow.wires.allocate(wire.wire_id, allocation.amount_fen, now=now, match_rule=rule):
        raise Conflict(f"wire {wire.wire_id} has less than {allocation.amount_fen} fen unclaimed")
    claim = await _new_claim(uow, wire, allocation, rule=rule, actor=actor, now=now)
    return await _pay(gw, uow, wire, claim, approved_by=approved_by, now=now)


async def _new_claim(
    uow: GatewayUnitOfWork,
    wire: Wire,
    allocation: Allocation,
    *,
    rule: str,
    actor: str,
    now: datetime,
    status: ClaimStatus = ClaimStatus.CLAIMED,
) -> WireClaim:
    billing = await uow.billings.get(allocation.billing_id)
    if billing is None:
        raise NotFound(f"billing {allocation.billing_id} is not payable (unknown or not due)")
    claim = WireClaim(
        claim_id=uuid.uuid4(),
        wire_id=wire.wire_id,
        billing_id=billing.billing_id,
        order_id=billing.order_id,
        amount_fen=allocation.amount_fen,
        status=status,
        rule=rule,
        payment_id=None,
        claimed_by=actor,
        approved_by=None,
        decided_reason=None,
        unclaimed_by=None,
        unclaim_reason=None,
        created_at=now,
        updated_at=now,
    )
    await uow.wires.add_claim(claim)
    return claim


async def _pay(
    gw: Gateway,
    uow: GatewayUnitOfWork,
    wire: Wire,
    claim: WireClaim,
    *,
    approved_by: str | None,
    now: datetime,
) -> WireClaim:
    tolerance_fen = gw.settings.wire_match_tolerance_fen if claim.rule != rules.MANUAL_RULE else 0
    billing = await offline_payments.payable_billing(
        gw,
        uow,
        claim.billing_id,
        channel=ChannelCode.WIRE,
        amount_fen=claim.amount_fen,
        tolerance_fen=tolerance_fen,
    )
    payment = await offline_payments.record_payment(
        uow,
        billing,
        channel=ChannelCode.WIRE,
        method=WIRE_METHOD,
        amount_fen=claim.amount_fen,
        channel_txn_id=wire.bank_reference,
        actor=claim.claimed_by,
        now=now,
    )
    await uow.emit(
        WireClaimed(
            wire_id=str(wire.wire_id),
            order_id=str(billing.order_id),
            billing_id=str(billing.billing_id),
            amount_fen=claim.amount_fen,
            claimed_by=approved_by or claim.claimed_by,
        )
    )
    source = ClaimStatus.PENDING_APPROVAL if approved_by else ClaimStatus.CLAIMED
    moved = await uow.wires.move_claim(
        claim.claim_id,
        source,
        ClaimStatus.CLAIMED,
        now=now,
        payment_id=payment.payment_id,
        approved_by=approved_by,
    )
    assert moved is not None, "the claim is ours in this transaction"
    return moved


async def claim(
    gw: Gateway, wire_id: uuid.UUID, allocations: Sequence[Allocation], actor: str
) -> list[WireClaim]:
    """A cashier's wire confirmation: split over billings; above the approval threshold the
    claims wait for a finance-approver (the amount is held for them meanwhile)."""
    now = gw.now()
    async with gw.uow() as uow:
        wire = await _open_wire(uow, wire_id)
        total_fen = rules.check_allocations(allocations, wire.unallocated_fen)
        threshold_fen = gw.settings.wire_claim_approval_threshold_fen
        claims = []
        if rules.needs_second_approver(total_fen, threshold_fen):
            if not await uow.wires.allocate(wire_id, total_fen, now=now):
                raise Conflict(f"wire {wire_id} changed; read it again")
            for allocation in allocations:
                await offline_payments.payable_billing(
                    gw,
                    uow,
                    allocation.billing_id,
                    channel=ChannelCode.WIRE,
                    amount_fen=allocation.amount_fen,
                )
                claims.append(
                    await _new_claim(
                        uow,
                        wire,
                        allocation,
                        rule=rules.MANUAL_RULE,
                        actor=actor,
                        now=now,
                        status=ClaimStatus.PENDING_APPROVAL,
                    )
                )
        else:
            for allocation in allocations:
                claims.append(
                    await _claim_now(
                        gw, uow, wire, allocation, rule=rules.MANUAL_RULE, actor=actor, now=now
                    )
                )
        await uow.commit()
    return claims


async def _open_wire(uow: GatewayUnitOfWork, wire_id: uuid.UUID) -> Wire:
    wire = await uow.wires.get(wire_id, for_update=True)
    if wire is None:
        raise NotFound(f"wire {wire_id} not found")
    return wire


async def approve(gw: Gateway, claim_id: uuid.UUID, actor: str) -> WireClaim:
    """A finance-approver approves a claim above the threshold: the billing is paid."""
    now = gw.now()
    async with gw.uow() as uow:
        pending = await _claim_in(uow, claim_id, ClaimStatus.PENDING_APPROVAL)
        if pending.claimed_by == actor:
            raise SameApprover("a claim is approved by someone other than who made it")
        wire = await _open_wire(uow, pending.wire_id)
        approved = await _pay(gw, uow, wire, pending, approved_by=actor, now=now)
        await uow.commit()
    return approved


async def reject(gw: Gateway, claim_id: uuid.UUID, actor: str, reason: str) -> WireClaim:
    """A finance-approver refuses a claim: its amount is unclaimed again (still in suspense)."""
    now = gw.now()
    async with gw.uow() as uow:
        pending = await _claim_in(uow, claim_id, ClaimStatus.PENDING_APPROVAL)
        await _open_wire(uow, pending.wire_id)
        moved = await uow.wires.move_claim(
            claim_id,
            ClaimStatus.PENDING_APPROVAL,
            ClaimStatus.REJECTED,
            now=now,
            approved_by=actor,
            decided_reason=reason,
        )
        assert moved is not None
        if not await uow.wires.allocate(pending.wire_id, -pending.amount_fen, now=now):
            raise AssertionError("a pending claim's amount is allocated on its wire")
        await uow.commit()
    return moved


async def unclaim(gw: Gateway, claim_id: uuid.UUID, actor: str, reason: str) -> WireClaim:
    """Undo a wrong claim: the payment is reversed (billing and ledger follow) and the amount
    goes back to suspense and the claim queue."""
    now = gw.now()
    async with gw.uow() as uow:
        claimed = await _claim_in(uow, claim_id, ClaimStatus.CLAIMED)
        await _open_wire(uow, claimed.wire_id)
        assert claimed.payment_id is not None, "a claimed claim has its payment"
        moved = await uow.wires.move_claim(
            claim_id,
            ClaimStatus.CLAIMED,
            ClaimStatus.UNCLAIMED,
            now=now,
            unclaimed_by=actor,
            unclaim_reason=reason,
        )
        assert moved is not None
        await offline_payments.reverse_payment(
            uow, claimed.payment_id, reversal_id=claim_id, reason=reason, now=now
        )
        if not await uow.wires.allocate(claimed.wire_id, -claimed.amount_fen, now=now):
            raise AssertionError("a claimed amount is allocated on its wire")
        await uow.commit()
    return moved


async def _claim_in(uow: GatewayUnitOfWork, claim_id: uuid.UUID, status: ClaimStatus) -> WireClaim:
    found = await uow.wires.get_claim(claim_id, for_update=True)
    if found is None:
        raise NotFound(f"wire claim {claim_id} not found")
    if found.status is not status:
        raise IllegalTransition(f"wire claim {claim_id} is {found.status}, not {status}")
    return found


# --- queries ----------------------------------------------------------------------------


async def search(gw: Gateway, filters: WireSearch) -> tuple[list[Wire], int]:
    """The claim queue (or every wire) by the filters."""
    async with gw.uow() as uow:
        return await uow.wires.search(filters)


async def get(gw: Gateway, wire_id: uuid.UUID) -> tuple[Wire, list[WireClaim]]:
    """One wire and its claims."""
    async with gw.uow() as uow:
        wire = await uow.wires.get(wire_id)
        if wire is None:
            raise NotFound(f"wire {wire_id} not found")
        return wire, await uow.wires.claims_of(wire_id=wire_id)


async def claims_in(gw: Gateway, status: ClaimStatus) -> list[WireClaim]:
    """Claims in one status (e.g. waiting for approval), oldest first."""
    async with gw.uow() as uow:
        return await uow.wires.claims_of(status=status)


async def ageing(gw: Gateway) -> list[tuple[str, int, int]]:
    """(bucket, transfers, unclaimed fen) for every ageing bucket, youngest first."""
    today = gw.now().astimezone(CHANNEL_TZ).date()
    totals = {label: [0, 0] for label, _, _ in rules.AGEING_BUCKETS}
    async with gw.uow() as uow:
        for value_date, count, unclaimed_fen in await uow.wires.open_by_value_date():
            bucket = totals[rules.ageing_bucket(value_date, today)]
            bucket[0] += count
            bucket[1] += unclaimed_fen
    return [(label, count, fen) for label, (count, fen) in totals.items()]
