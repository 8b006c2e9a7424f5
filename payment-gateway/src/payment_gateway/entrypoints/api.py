"""HTTP API of payment-gateway (thin: validate → command → handler).

POST endpoints that move money need an ``Idempotency-Key``: the same key and body replay the
first response (errors included), the same key with another body is 422, concurrent requests
with one key execute once.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from otd_shared.auth import Principal, Role, require_roles
from payment_gateway.adapters.payable_billings import PayableBillingRepository
from payment_gateway.entrypoints.schemas import (
    ChannelOut,
    PaymentOut,
    RefundBody,
    RefundOut,
    StartPaymentBody,
)
from payment_gateway.service_layer import discount_cashier, payments, refunds
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.idempotency import check_key, request_hash, run_idempotent
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

router = APIRouter(prefix="/v1", tags=["payments"])
Payer = Annotated[
    Principal, Depends(require_roles(Role.APP_BACKEND, Role.POS_INTEGRATOR, Role.CASHIER))
]
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.APP_BACKEND, Role.POS_INTEGRATOR, Role.CASHIER, Role.FINANCE)),
]
Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Operator = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.SRE, Role.APP_BACKEND))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def gateway(request: Request) -> Gateway:
    """The gateway built at startup."""
    gw: Gateway = request.app.state.gateway
    return gw


Gw = Annotated[Gateway, Depends(gateway)]


@router.post(
    "/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses={409: {}, 422: {}, 503: {}},
)
async def start_payment(
    body: StartPaymentBody, gw: Gw, principal: Payer, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Start paying a billing: routes, opens the order at the channel, returns ``pay_params``
    (WeChat app parameters, Alipay order string, Lakala QR or cashier URL, POS order QR)."""
    key = check_key(idempotency_key)
    command = payments.StartPaymentCommand(
        billing_id=body.billing_id,
        channel=body.channel,
        method=body.method,
        amount_fen=body.amount_fen,
        description=body.description,
        actor=principal.subject,
        store_id=body.store_id,
        apply_discount=body.apply_discount,
    )

    async def action(uow: GatewayUnitOfWork) -> tuple[int, Any]:
        payment = await payments.start_payment(gw, uow, command)
        discount = await discount_cashier.discount_of(uow, payment.payment_id)
        return status.HTTP_201_CREATED, PaymentOut.of(payment, discount).model_dump(mode="json")

    fingerprint = request_hash("POST", "/v1/payments", body.model_dump(mode="json"))
    code, stored = await run_idempotent(
        gw,
        scope=f"payments:{principal.role.value}",
        key=key,
        fingerprint=fingerprint,
        action=action,
    )
    return JSONResponse(stored, status_code=code)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
async def get_payment(payment_id: uuid.UUID, gw: Gw, _: Reader) -> PaymentOut:
    """One payment with its status (and the instant discount drawn for it)."""
    payment = await payments.get_payment(gw, payment_id)
    found = await discount_cashier.find_discounts(gw, [payment_id])
    return PaymentOut.of(payment, found.get(payment_id))


@router.get("/billings/{billing_id}/payments", response_model=list[PaymentOut])
async def billing_payments(billing_id: uuid.UUID, gw: Gw, _: Reader) -> list[PaymentOut]:
    """Every payment of a billing, oldest first (a discount shows as its own payment too)."""
    listed = await payments.list_payments(gw, billing_id)
    found = await discount_cashier.find_discounts(gw, [p.payment_id for p in listed])
    return [PaymentOut.of(p, found.get(p.payment_id)) for p in listed]


@router.post("/payments/{payment_id}/close", response_model=PaymentOut)
async def close_payment(payment_id: uuid.UUID, gw: Gw, _: Payer) -> PaymentOut:
    """Close an open payment at the channel (the user gave up); refused when it was paid."""
    payment = await payments.close_payment(gw, payment_id)
    found = await discount_cashier.find_discounts(gw, [payment_id])
    return PaymentOut.of(payment, found.get(payment_id))


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses={404: {}, 409: {}, 422: {}},
)
async def request_refund(
    payment_id: uuid.UUID,
    body: RefundBody,
    gw: Gw,
    principal: Finance,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Refund a succeeded online payment, fully (no amount) or partially; sent by the scheduler
    and confirmed by the channel's notification or an active query."""
    key = check_key(idempotency_key)
    command = refunds.RequestRefundCommand(
        payment_id=payment_id,
        amount_fen=body.amount_fen,
        reason=body.reason,
        actor=principal.subject,
    )

    async def action(uow: GatewayUnitOfWork) -> tuple[int, Any]:
        refund = await refunds.request_refund(gw, uow, command)
        return status.HTTP_201_CREATED, RefundOut.of(refund).model_dump(mode="json")

    path = f"/v1/payments/{payment_id}/refunds"
    fingerprint = request_hash("POST", path, body.model_dump(mode="json"))
    code, stored = await run_idempotent(
        gw, scope="refunds", key=key, fingerprint=fingerprint, action=action
    )
    return JSONResponse(stored, status_code=code)


@router.get("/payments/{payment_id}/refunds", response_model=list[RefundOut])
async def payment_refunds(payment_id: uuid.UUID, gw: Gw, _: Reader) -> list[RefundOut]:
    """Refunds of a payment, oldest first."""
    return [RefundOut.of(r) for r in await refunds.list_refunds(gw, payment_id)]


@router.get("/refunds/{refund_id}", response_model=RefundOut)
async def get_refund(refund_id: uuid.UUID, gw: Gw, _: Reader) -> RefundOut:
    """One refund."""
    return RefundOut.of(await refunds.get_refund(gw, refund_id))


@router.get("/channels", response_model=list[ChannelOut])
async def channels(gw: Gw, _: Operator) -> list[ChannelOut]:
    """Every channel of the registry: kind, methods, switch, health (circuit breaker of this
    replica), online limit, and what the rest of the cluster keeps for it."""
    result = []
    for spec in gw.registry:
        channel = spec.code
        view = gw.health.view(channel)
        started_here = channel in gw.clients or not spec.keys
        result.append(
            ChannelOut(
                channel=channel,
                kind=spec.facts.kind,
                online=spec.online,
                startable=spec.startable,
                enabled=started_here and gw.settings.channel_enabled(channel),
                health=view.state.value,
                consecutive_failures=view.consecutive_failures,
                retry_in_s=round(view.retry_in_s, 1),
                methods=list(spec.methods),
                default_method=spec.default_method,
                online_limit_fen=gw.routing.rules.limit_fen(channel) if spec.online else None,
                notifications=channel in gw.protocols,
                statement_source=spec.statement_source,
                ledger_accounts=list(spec.ledger_accounts),
            )
        )
    return result


class PayableBillingOut(BaseModel):
    """A billing the gateway accepts payments for."""

    billing_id: uuid.UUID
    order_id: uuid.UUID
    stage: str
    amount_fen: int
    outstanding_fen: int
    due_at: Any
    status: str


@router.get(
    "/orders/{order_id}/payable-billings", response_model=list[PayableBillingOut], tags=["billings"]
)
async def payable_billings(order_id: uuid.UUID, gw: Gw, _: Reader) -> list[PayableBillingOut]:
    """Billings of an order that are due and can be paid."""
    async with gw.sessions() as session:
        found = await PayableBillingRepository(session).list_for_order(order_id)
    return [
        PayableBillingOut(
            billing_id=b.billing_id,
            order_id=b.order_id,
            stage=b.stage,
            amount_fen=b.amount_fen,
            outstanding_fen=b.outstanding_fen,
            due_at=b.due_at,
            status=b.status,
        )
        for b in found
    ]
