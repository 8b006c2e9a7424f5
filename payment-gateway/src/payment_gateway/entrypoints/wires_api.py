"""HTTP API of wires: payer accounts (app-backend), intake (bank), the claim queue (cashier,
finance), approvals and unclaims (finance-approver). Thin: validate → command → handler."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from otd_shared.auth import Principal, Role, require_roles
from otd_shared.errors import InvalidInput
from payment_gateway.adapters.wire_repo import Wire, WireClaim, WireSearch
from payment_gateway.adapters.wire_statement import parse_wire_file
from payment_gateway.domain.wires import Allocation, ClaimStatus
from payment_gateway.entrypoints.api import Gw
from payment_gateway.service_layer import wires

router = APIRouter(prefix="/v1", tags=["wires"])
AppBackend = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND))]
Bank = Annotated[Principal, Depends(require_roles(Role.BANK))]
Claimer = Annotated[Principal, Depends(require_roles(Role.CASHIER, Role.FINANCE))]
Approver = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER))]
Unclaimer = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]
QueueReader = Annotated[
    Principal, Depends(require_roles(Role.CASHIER, Role.FINANCE, Role.FINANCE_APPROVER))
]
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=10**12)]
Text = Annotated[str, Field(max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
ACCOUNTS_MAX = 20


class PayerAccountsBody(BaseModel):
    """The cards and accounts a customer may wire from (full numbers; stored masked)."""

    model_config = ConfigDict(extra="forbid")
    accounts: Annotated[
        list[Annotated[str, Field(min_length=4, max_length=40)]], Field(max_length=ACCOUNTS_MAX)
    ]


class PayerAccountsOut(BaseModel):
    """The registered accounts, masked to BIN + last 4."""

    customer_id: str
    accounts: list[str]


class TransferIn(BaseModel):
    """One statement line from the bank link."""

    model_config = ConfigDict(extra="forbid")
    bank_reference: Annotated[str, Field(min_length=1, max_length=64)]
    bank_account: Annotated[str, Field(min_length=1, max_length=64)] = "default"
    payer_name: Text = ""
    payer_account: Annotated[str, Field(min_length=4, max_length=40)]
    amount_fen: PositiveFen
    value_date: date
    memo: Text = ""


class WiresBody(BaseModel):
    """A batch of incoming transfers."""

    model_config = ConfigDict(extra="forbid")
    transfers: Annotated[list[TransferIn], Field(min_length=1)]


class IntakeResultOut(BaseModel):
    """What intake did with one transfer."""

    bank_reference: str
    status: Literal["matched", "queued", "duplicate"]
    billing_id: uuid.UUID | None
    wire_id: uuid.UUID
    rule: str | None


class WiresOut(BaseModel):
    results: list[IntakeResultOut]


class ClaimOut(BaseModel):
    """(Part of) a wire claimed for a billing."""

    claim_id: uuid.UUID
    wire_id: uuid.UUID
    billing_id: uuid.UUID
    order_id: uuid.UUID
    amount_fen: int
    status: str
    rule: str
    payment_id: uuid.UUID | None
    claimed_by: str
    approved_by: str | None
    decided_reason: str | None
    unclaimed_by: str | None
    unclaim_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, c: WireClaim) -> ClaimOut:
        return cls(**{f: getattr(c, f) for f in cls.model_fields})


class WireOut(BaseModel):
    """A transfer (payer account masked) and what is still unclaimed."""

    wire_id: uuid.UUID
    bank_reference: str
    bank_account: str
    payer_name: str
    payer_account: str
    payer_last4: str
    amount_fen: int
    unclaimed_fen: int
    value_date: date
    memo: str
    source: str
    match_rule: str | None
    queue_reason: str | None
    received_at: datetime
    claims: list[ClaimOut] = []

    @classmethod
    def of(cls, w: Wire, claims: list[WireClaim] | None = None) -> WireOut:
        return cls(
            wire_id=w.wire_id,
            bank_reference=w.bank_reference,
            bank_account=w.bank_account,
            payer_name=w.payer_name,
            payer_account=w.payer_account_masked,
            payer_last4=w.payer_last4,
            amount_fen=w.amount_fen,
            unclaimed_fen=w.unallocated_fen,
            value_date=w.value_date,
            memo=w.memo,
            source=w.source,
            match_rule=w.match_rule,
            queue_reason=w.queue_reason,
            received_at=w.received_at,
            claims=[ClaimOut.of(c) for c in claims or []],
        )


class WirePage(BaseModel):
    items: list[WireOut]
    total: int
    limit: int
    offset: int


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    billing_id: uuid.UUID
    amount_fen: PositiveFen


class ClaimBody(BaseModel):
    """A wire confirmation: one or more billings and the part of the wire each gets."""

    model_config = ConfigDict(extra="forbid")
    allocations: Annotated[list[AllocationIn], Field(min_length=1, max_length=20)]


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class AgeingBucketOut(BaseModel):
    bucket: str
    wires: int
    unclaimed_fen: int


class AgeingOut(BaseModel):
    buckets: list[AgeingBucketOut]
    unclaimed_fen: int


@router.put("/customers/{customer_id}/payer-accounts", response_model=PayerAccountsOut)
async def put_payer_accounts(
    customer_id: Annotated[str, Field(min_length=1, max_length=64)],
    body: PayerAccountsBody,
    gw: Gw,
    principal: AppBackend,
) -> PayerAccountsOut:
    """Replace the cards and accounts the customer may wire from (stored BIN + last 4)."""
    stored = await wires.register_payer_accounts(gw, customer_id, body.accounts, principal.subject)
    return PayerAccountsOut(customer_id=customer_id, accounts=stored)


@router.get("/customers/{customer_id}/payer-accounts", response_model=PayerAccountsOut)
async def get_payer_accounts(customer_id: str, gw: Gw, _: AppBackend) -> PayerAccountsOut:
    """The customer's registered accounts, masked."""
    return PayerAccountsOut(
        customer_id=customer_id, accounts=await wires.payer_accounts(gw, customer_id)
    )


def _results(found: list[wires.IntakeResult]) -> WiresOut:
    return WiresOut(
        results=[
            IntakeResultOut(
                bank_reference=r.bank_reference,
                status=r.status,
                billing_id=r.billing_id,
                wire_id=r.wire_id,
                rule=r.rule,
            )
            for r in found
        ]
    )


@router.post("/wires", response_model=WiresOut, responses={422: {}})
async def post_wires(body: WiresBody, gw: Gw, _: Bank) -> WiresOut:
    """Incoming transfers from the bank link: each booked to suspense, then auto-matched
    (``matched``) or queued for a cashier (``queued``); a known bank reference is ``duplicate``."""
    if len(body.transfers) > gw.settings.wire_intake_batch_max:
        raise InvalidInput(
            f"at most {gw.settings.wire_intake_batch_max} transfers per batch", field="transfers"
        )
    transfers = [wires.Transfer(**t.model_dump()) for t in body.transfers]
    return _results(await wires.intake(gw, transfers, source="api"))


@router.post("/wires/statement-files", response_model=WiresOut, responses={413: {}, 422: {}})
async def post_wire_file(file: UploadFile, gw: Gw, _: Bank) -> WiresOut:
    """A bank statement file of incoming transfers (recon's wire layout, see
    docs/offline-payments.md)."""
    raw = await file.read(gw.settings.wire_file_max_bytes + 1)
    if len(raw) > gw.settings.wire_file_max_bytes:
        raise InvalidInput(
            f"the file exceeds {gw.settings.wire_file_max_bytes} bytes", field="file"
        )
    transfers = parse_wire_file(raw, lines_max=gw.settings.wire_intake_batch_max)
    return _results(await wires.intake(gw, transfers, source="file"))


@router.get("/wires", response_model=WirePage)
async def list_wires(
    gw: Gw,
    _: QueueReader,
    state: Literal["open", "all"] = "open",
    payer_last4: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
    amount_fen: Annotated[int | None, Query(gt=0)] = None,
    bank_reference: Annotated[str | None, Query(max_length=64)] = None,
    value_date_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WirePage:
    """The claim queue (``state=open``: not fully claimed) or every wire, oldest first."""
    filters = WireSearch(
        open_only=state == "open",
        payer_last4=payer_last4,
        amount_fen=amount_fen,
        bank_reference=bank_reference,
        value_date_to=value_date_to,
        limit=limit,
        offset=offset,
    )
    items, total = await wires.search(gw, filters)
    return WirePage(items=[WireOut.of(w) for w in items], total=total, limit=limit, offset=offset)


@router.get("/wires/ageing", response_model=AgeingOut)
async def wires_ageing(gw: Gw, _: QueueReader) -> AgeingOut:
    """What stays unclaimed in suspense, by age of its value date (0–3, 4–7, 8–30, >30 days)."""
    buckets = [
        AgeingBucketOut(bucket=b, wires=n, unclaimed_fen=f) for b, n, f in await wires.ageing(gw)
    ]
    return AgeingOut(buckets=buckets, unclaimed_fen=sum(b.unclaimed_fen for b in buckets))


@router.get("/wires/{wire_id}", response_model=WireOut)
async def get_wire(wire_id: uuid.UUID, gw: Gw, _: QueueReader) -> WireOut:
    """One wire with its claims."""
    wire, claims = await wires.get(gw, wire_id)
    return WireOut.of(wire, claims)


@router.post(
    "/wires/{wire_id}/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ClaimOut],
    responses={404: {}, 409: {}, 422: {}},
)
async def claim_wire(
    wire_id: uuid.UUID, body: ClaimBody, gw: Gw, principal: Claimer
) -> list[ClaimOut]:
    """Wire confirmation: claim the wire (or parts of it) for billings; above the approval
    threshold the claims wait (``pending_approval``) for a finance-approver."""
    allocations = [Allocation(a.billing_id, a.amount_fen) for a in body.allocations]
    claims = await wires.claim(gw, wire_id, allocations, principal.subject)
    return [ClaimOut.of(c) for c in claims]


@router.get("/wire-claims", response_model=list[ClaimOut])
async def list_claims(
    gw: Gw, _: QueueReader, status: ClaimStatus = ClaimStatus.PENDING_APPROVAL
) -> list[ClaimOut]:
    """Claims in one status (default: waiting for approval), oldest first."""
    return [ClaimOut.of(c) for c in await wires.claims_in(gw, status)]


@router.post(
    "/wire-claims/{claim_id}/approve", response_model=ClaimOut, responses={404: {}, 409: {}}
)
async def approve_claim(claim_id: uuid.UUID, gw: Gw, principal: Approver) -> ClaimOut:
    """Second approver: the claim pays its billing."""
    return ClaimOut.of(await wires.approve(gw, claim_id, principal.subject))


@router.post(
    "/wire-claims/{claim_id}/reject", response_model=ClaimOut, responses={404: {}, 409: {}}
)
async def reject_claim(
    claim_id: uuid.UUID, body: ReasonBody, gw: Gw, principal: Approver
) -> ClaimOut:
    """Second approver refuses: the amount is unclaimed again."""
    return ClaimOut.of(await wires.reject(gw, claim_id, principal.subject, body.reason))


@router.post(
    "/wire-claims/{claim_id}/unclaim", response_model=ClaimOut, responses={404: {}, 409: {}}
)
async def unclaim(claim_id: uuid.UUID, body: ReasonBody, gw: Gw, principal: Unclaimer) -> ClaimOut:
    """Undo a wrong claim (with a reason): the payment is reversed and the money goes back to
    suspense and the queue."""
    return ClaimOut.of(await wires.unclaim(gw, claim_id, principal.subject, body.reason))
