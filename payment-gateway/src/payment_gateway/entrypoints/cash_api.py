"""HTTP API of cash: receipts (cashier), reversals (finance-approver), day closes (cashier)
and the cash deposit report recon reads. Thin: validate → command → handler."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from otd_shared.auth import Principal, Role, require_roles
from payment_gateway.adapters.cash_repo import CashReceipt, DayClose
from payment_gateway.entrypoints.api import Gw
from payment_gateway.service_layer import cash

router = APIRouter(prefix="/v1", tags=["cash"])
Cashier = Annotated[Principal, Depends(require_roles(Role.CASHIER))]
Approver = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.CASHIER, Role.FINANCE, Role.FINANCE_APPROVER))
]
StoreId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]


class ReceiptBody(BaseModel):
    """A cash receipt the store cashier recorded."""

    model_config = ConfigDict(extra="forbid")
    billing_id: uuid.UUID
    amount_fen: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    receipt_no: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]
    store_id: StoreId


class ReceiptOut(BaseModel):
    """A receipt and its payment."""

    receipt_id: uuid.UUID
    payment_id: uuid.UUID
    status: str
    payment_status: str
    store_id: str
    receipt_no: str
    billing_id: uuid.UUID
    order_id: uuid.UUID
    out_trade_no: str
    amount_fen: int
    cashier: str
    business_date: date
    created_at: datetime
    reversed_by: str | None
    reversal_reason: str | None
    reversed_at: datetime | None

    @classmethod
    def of(cls, r: CashReceipt) -> ReceiptOut:
        return cls(
            **{f: getattr(r, f) for f in cls.model_fields if f not in ("status", "payment_status")},
            status="succeeded" if r.status == "recorded" else "reversed",
            payment_status="succeeded" if r.status == "recorded" else "reversed",
        )


class ReversalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class DayCloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_id: StoreId
    date: date


class DayCloseOut(BaseModel):
    """A store's closed cash day (the deposit report's totals)."""

    store_id: str
    date: date
    receipts_count: int
    receipts_fen: int
    reversals_count: int
    reversals_fen: int
    total_fen: int
    closed_by: str
    closed_at: datetime
    report_url: str

    @classmethod
    def of(cls, c: DayClose) -> DayCloseOut:
        return cls(
            store_id=c.store_id,
            date=c.business_date,
            receipts_count=c.receipts_count,
            receipts_fen=c.receipts_fen,
            reversals_count=c.reversals_count,
            reversals_fen=c.reversals_fen,
            total_fen=c.total_fen,
            closed_by=c.closed_by,
            closed_at=c.closed_at,
            report_url=f"/v1/cash-day-closes/{c.store_id}/{c.business_date.isoformat()}/report.csv",
        )


@router.post(
    "/cash-receipts",
    status_code=status.HTTP_201_CREATED,
    response_model=ReceiptOut,
    responses={200: {"description": "the same receipt again"}, 404: {}, 409: {}, 422: {}},
)
async def record_receipt(body: ReceiptBody, gw: Gw, principal: Cashier) -> JSONResponse:
    """Record a cash receipt against a billing (receipt number unique per store): the payment
    succeeds at once; the same receipt again answers 200 with the first."""
    receipt, created = await cash.record_receipt(
        gw,
        cash.RecordReceipt(
            billing_id=body.billing_id,
            amount_fen=body.amount_fen,
            receipt_no=body.receipt_no,
            store_id=body.store_id,
            actor=principal.subject,
        ),
    )
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(ReceiptOut.of(receipt).model_dump(mode="json"), status_code=code)


@router.get("/cash-receipts", response_model=list[ReceiptOut])
async def list_receipts(
    gw: Gw,
    _: Reader,
    store_id: Annotated[str | None, Query(max_length=32)] = None,
    day: Annotated[date | None, Query(alias="date")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ReceiptOut]:
    """Receipts by store and business day, newest first."""
    found = await cash.list_receipts(gw, store_id=store_id, day=day, limit=limit, offset=offset)
    return [ReceiptOut.of(r) for r in found]


@router.get("/cash-receipts/{receipt_id}", response_model=ReceiptOut)
async def get_receipt(receipt_id: uuid.UUID, gw: Gw, _: Reader) -> ReceiptOut:
    """One receipt."""
    return ReceiptOut.of(await cash.get_receipt(gw, receipt_id))


@router.post(
    "/cash-receipts/{receipt_id}/reversal", response_model=ReceiptOut, responses={404: {}, 409: {}}
)
async def reverse_receipt(
    receipt_id: uuid.UUID, body: ReversalBody, gw: Gw, principal: Approver
) -> ReceiptOut:
    """Reverse a wrong receipt (finance-approver, with a reason): the payment is reversed."""
    return ReceiptOut.of(
        await cash.reverse_receipt(gw, receipt_id, actor=principal.subject, reason=body.reason)
    )


@router.post(
    "/cash-day-closes",
    status_code=status.HTTP_201_CREATED,
    response_model=DayCloseOut,
    responses={200: {"description": "already closed"}, 422: {}},
)
async def close_day(body: DayCloseBody, gw: Gw, principal: Cashier) -> JSONResponse:
    """Close the store's cash day: receipts and reversals are frozen and the deposit report
    (recon's cash layout) is kept."""
    close, created = await cash.close_day(gw, body.store_id, body.date, principal.subject)
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(DayCloseOut.of(close).model_dump(mode="json"), status_code=code)


@router.get("/cash-day-closes/{store_id}/{day}", response_model=DayCloseOut)
async def get_day_close(store_id: str, day: date, gw: Gw, _: Reader) -> DayCloseOut:
    """A closed day's totals."""
    return DayCloseOut.of(await cash.get_close(gw, store_id, day))


@router.get(
    "/cash-day-closes/{store_id}/{day}/report.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def day_report(store_id: str, day: date, gw: Gw, _: Reader) -> PlainTextResponse:
    """The cash deposit report (upload it to recon as source ``cash``)."""
    close = await cash.get_close(gw, store_id, day)
    filename = f"cash-{store_id}-{day.isoformat()}.csv"
    return PlainTextResponse(
        close.report_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
