"""HTTP API of POS: order QRs (app-backend, cashier), the terminal's fetch (pos-integrator),
stores and terminals (sre), refused fetches and parked notifications (finance)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from otd_shared.auth import Principal, Role, require_roles
from otd_shared.channels import ChannelCode
from payment_gateway.adapters.pos_repo import ParkedCallback, Terminal
from payment_gateway.entrypoints.api import Gw
from payment_gateway.service_layer import payment_codes as payment_codes_service
from payment_gateway.service_layer import pos

router = APIRouter(prefix="/v1/pos", tags=["pos"])
Issuer = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND, Role.CASHIER))]
Integrator = Annotated[Principal, Depends(require_roles(Role.POS_INTEGRATOR))]
Operator = Annotated[Principal, Depends(require_roles(Role.SRE))]
Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]
Ident = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]


class OrderQrBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    billing_id: uuid.UUID
    amount_fen: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    store_id: Ident


class OrderQrOut(BaseModel):
    """What the sales app shows: the QR content and the short code a cashier can type."""

    token: str
    qr_content: str
    short_code: str
    expires_at: datetime
    billing_id: uuid.UUID
    amount_fen: int
    store_id: str


class ChargeBody(BaseModel):
    """A terminal's fetch of what to charge."""

    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=1, max_length=160)] | None = None
    short_code: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    terminal_id: Ident
    channel: Literal["unionpay", "allinpay"]
    method: Literal["pos_card", "pos_qr"] = "pos_card"

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if (self.token is None) == (self.short_code is None):
            raise ValueError("give exactly one of token or short_code")
        return self


class ChargeOut(BaseModel):
    """The reservation: the acquirer echoes ``out_trade_no`` (UnionPay orderId, Allinpay
    cusorderid) with the same amount."""

    payment_id: uuid.UUID
    out_trade_no: str
    amount_fen: int
    channel: str
    method: str
    status: str
    billing_id: uuid.UUID
    store_id: str
    terminal_id: str
    expires_at: datetime


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    terminals: dict[Ident, Literal["unionpay", "allinpay"]] = {}


class TerminalOut(BaseModel):
    terminal_id: str
    store_id: str
    channel: str
    active: bool

    @classmethod
    def of(cls, t: Terminal) -> TerminalOut:
        return cls(
            terminal_id=t.terminal_id, store_id=t.store_id, channel=t.channel, active=t.active
        )


class ParkedOut(BaseModel):
    """A verified POS notification that named no open reservation (never applied to a guess)."""

    parked_id: uuid.UUID
    channel: str
    out_trade_no: str
    channel_txn_id: str | None
    amount_fen: int | None
    reason: str
    voucher: dict[str, str]
    status: str
    received_at: datetime
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, p: ParkedCallback) -> ParkedOut:
        return cls(
            **{f: getattr(p, f) for f in cls.model_fields if f != "voucher"},
            voucher=dict(p.voucher),
        )


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Annotated[str, Field(min_length=1, max_length=500)]


@router.post(
    "/order-qr",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderQrOut,
    responses={404: {}, 409: {}, 422: {}},
)
async def order_qr(body: OrderQrBody, gw: Gw, principal: Issuer) -> OrderQrOut:
    """A signed, expiring, single-use order QR for (part of) a billing at a store."""
    issued = await pos.issue_order_qr(
        gw, pos.IssueOrderQr(body.billing_id, body.amount_fen, body.store_id, principal.subject)
    )
    return OrderQrOut(
        token=issued.token,
        qr_content=issued.qr_content,
        short_code=issued.short_code,
        expires_at=issued.expires_at,
        billing_id=body.billing_id,
        amount_fen=body.amount_fen,
        store_id=body.store_id,
    )


@router.post(
    "/charges",
    status_code=status.HTTP_201_CREATED,
    response_model=ChargeOut,
    responses={
        200: {"description": "the same terminal fetched again"},
        403: {},
        404: {},
        409: {},
        422: {},
    },
)
async def charges(body: ChargeBody, gw: Gw, principal: Integrator) -> JSONResponse:
    """The terminal scanned an order QR (or a cashier typed its short code): the payment is
    reserved (``paying``) and the terminal charges ``amount_fen`` under ``out_trade_no``.
    Refused with ``code`` unknown_terminal, wrong_channel, bad_token, unknown_token,
    token_used, token_expired, wrong_store or billing_not_payable (each recorded)."""
    payment, created = await pos.charge(
        gw,
        pos.Charge(
            body.token,
            body.short_code,
            body.terminal_id,
            ChannelCode(body.channel),
            body.method,
            principal.subject,
        ),
    )
    out = ChargeOut(
        payment_id=payment.payment_id,
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        channel=payment.channel,
        method=payment.method,
        status=payment.status.value,
        billing_id=payment.billing_id,
        store_id=payment.pay_params.get("store_id", ""),
        terminal_id=body.terminal_id,
        expires_at=payment.expires_at,
    )
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(out.model_dump(mode="json"), status_code=code)


class PaymentCodeBody(BaseModel):
    """The terminal scanned the order QR and the customer's payment code (付款码)."""

    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=1, max_length=160)] | None = None
    short_code: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    terminal_id: Ident
    auth_code: Annotated[str, Field(min_length=1, max_length=32)]

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if (self.token is None) == (self.short_code is None):
            raise ValueError("give exactly one of token or short_code")
        return self


@router.post(
    "/payment-codes",
    status_code=status.HTTP_201_CREATED,
    response_model=ChargeOut,
    responses={
        200: {"description": "the same terminal sent the order QR again"},
        403: {},
        404: {},
        409: {},
        422: {},
    },
)
async def payment_codes(body: PaymentCodeBody, gw: Gw, principal: Integrator) -> JSONResponse:
    """Charge the customer's payment code for the order QR: routed by prefix (422
    ``unknown_payment_code``, ``payment_code_unsupported``), reserved like a terminal fetch,
    charged at the channel (Alipay 当面付, WeChat micropay, UnionPay 被扫). ``succeeded`` once a
    query confirmed it, ``failed`` when refused, else ``paying`` (the customer is entering a
    password): poll ``GET /v1/payments/{id}``; it is queried until it settles and cancelled
    at the channel after PAYMENT_CODE_WAIT_S (Alipay cancel, WeChat reverse)."""
    command = payment_codes_service.ChargeCode(
        body.token, body.short_code, body.terminal_id, body.auth_code, principal.subject
    )
    charged, created = await payment_codes_service.charge_code(gw, command)
    payment = await payment_codes_service.current(gw, charged.payment_id)
    out = ChargeOut(
        payment_id=payment.payment_id,
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        channel=payment.channel,
        method=payment.method,
        status=payment.status.value,
        billing_id=payment.billing_id,
        store_id=payment.pay_params.get("store_id", ""),
        terminal_id=body.terminal_id,
        expires_at=payment.expires_at,
    )
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(out.model_dump(mode="json"), status_code=code)


@router.put("/stores/{store_id}", response_model=list[TerminalOut])
async def put_store(
    store_id: Annotated[str, Field(min_length=1, max_length=32)],
    body: StoreBody,
    gw: Gw,
    _: Operator,
) -> list[TerminalOut]:
    """Register a store and its terminals (terminal id → acquirer)."""
    found = await pos.register_store(gw, store_id, body.name, dict(body.terminals))
    return [TerminalOut.of(t) for t in found]


@router.get("/terminals", response_model=list[TerminalOut])
async def list_terminals(gw: Gw, _: Finance, store_id: str | None = None) -> list[TerminalOut]:
    """Registered terminals."""
    return [TerminalOut.of(t) for t in await pos.terminals(gw, store_id)]


@router.get("/refusals")
async def list_refusals(
    gw: Gw, _: Finance, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    """The latest refused terminal fetches (code, terminal, when)."""
    return await pos.refusals(gw, limit)


@router.get("/parked-callbacks", response_model=list[ParkedOut])
async def list_parked(
    gw: Gw,
    _: Finance,
    state: Literal["open", "resolved", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ParkedOut]:
    """POS notifications parked for review (unknown, expired or already used reservation)."""
    found = await pos.parked(
        gw, status=None if state == "all" else state, limit=limit, offset=offset
    )
    return [ParkedOut.of(p) for p in found]


@router.post("/parked-callbacks/{parked_id}/resolve", response_model=ParkedOut, responses={404: {}})
async def resolve_parked(
    parked_id: uuid.UUID, body: ResolveBody, gw: Gw, principal: Finance
) -> ParkedOut:
    """Close a parked notification, saying what was done about it."""
    return ParkedOut.of(await pos.resolve_parked(gw, parked_id, body.resolution, principal.subject))
