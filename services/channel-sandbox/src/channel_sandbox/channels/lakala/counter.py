"""The tiny 收银台 page a Lakala `counter_url` opens (`/sandbox/lakala/counter/{pay_order_no}`):
the order and a pay button that pays it and delivers its notification."""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from channel_sandbox.api.common import sandbox_of
from channel_sandbox.channels import lakala as wire
from channel_sandbox.channels.base import Outcome
from channel_sandbox.store import PayState
from otd_shared.money import fen_to_yuan

router = APIRouter(prefix="/sandbox", tags=["Sandbox control"])


@router.get("/lakala/counter/{pay_order_no}", response_class=HTMLResponse)
async def lakala_counter(request: Request, pay_order_no: str) -> HTMLResponse:
    """The 收银台 page a `counter_url` opens: order details and a pay button."""
    order = sandbox_of(request).store.by_channel_id(wire.CODE, pay_order_no)
    if order is None:
        raise HTTPException(404, "no such 收银台 order")
    pay = (
        ""
        if order.state is not PayState.PENDING
        else (
            f"<form method='post' action='{html.escape(pay_order_no)}/pay'>"
            "<button>支付 (sandbox pay)</button></form>"
        )
    )
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>拉卡拉收银台 (sandbox)</title>"
        f"<h1>拉卡拉收银台 · sandbox</h1><p>订单 {html.escape(order.out_trade_no)}</p>"
        f"<p>金额 {fen_to_yuan(order.amount_fen)} 元</p>"
        f"<p>状态 {html.escape(order.state.value)}</p>{pay}"
    )


@router.post("/lakala/counter/{pay_order_no}/pay")
async def lakala_counter_pay(request: Request, pay_order_no: str) -> RedirectResponse:
    """The pay button: pay the order and deliver its notification."""
    sandbox = sandbox_of(request)
    order = sandbox.store.by_channel_id(wire.CODE, pay_order_no)
    if order is None:
        raise HTTPException(404, "no such 收银台 order")
    if order.state is PayState.PENDING:
        sandbox.mark_paid(order)
        sandbox.notify_payment(order, Outcome.SUCCEEDED)
    return RedirectResponse(f"../{pay_order_no}", status_code=303)
