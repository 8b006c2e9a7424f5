"""The control API: tell a channel what to do, and see what it did (`/sandbox/...`).

`POST /sandbox/actions` runs a scenario (see `channel_sandbox.scenarios`) and answers 202 with
the plan; `GET /sandbox/orders/{channel}/{out_trade_no}` shows the order as the channel sees it
with every notification attempt; `GET /sandbox/notifications` lists recent deliveries. SAP
rejections are steered under `/sandbox/sap/`. A tiny 收银台 page serves Lakala `counter_url`s.
"""

from __future__ import annotations

import html
from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from channel_sandbox.api.common import sandbox_of
from channel_sandbox.api.sap import book_of
from channel_sandbox.channels.base import Outcome
from channel_sandbox.engine import Fault, SandboxConflict
from channel_sandbox.scenarios import (
    Action,
    ActionCommand,
    Channel,
    InvalidCommand,
    UnknownOrder,
    run_action,
)
from channel_sandbox.store import AMOUNT_FEN_MAX, OUT_TRADE_NO_LEN_MAX, PayState
from channel_sandbox.views import delivery_view, order_view
from otd_shared.money import fen_to_yuan

RECENT_LIMIT_MAX: Final = 1000
DELAY_MS_MAX: Final = 24 * 3600 * 1000
router = APIRouter(prefix="/sandbox", tags=["Sandbox control"])

Fen = Annotated[int, Field(ge=1, le=AMOUNT_FEN_MAX)]
Url = Annotated[str, Field(max_length=1024, pattern=r"^https?://")]
Id = Annotated[str, Field(min_length=1, max_length=OUT_TRADE_NO_LEN_MAX)]


class ActionRequest(BaseModel):
    """What to do with which order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    action: Action
    out_trade_no: Id | None = Field(default=None, description="Required unless order_string.")
    delay_ms: Annotated[int, Field(ge=0, le=DELAY_MS_MAX)] | None = Field(
        default=None, description="Per-action default: notify_late 3000, out_of_order 200, ..."
    )
    amount_fen: Fen | None = Field(default=None, description="Creates an unknown order.")
    notify_url: Url | None = Field(default=None, description="Overrides the order's notify URL.")
    refund_amount_fen: Fen | None = None
    out_refund_no: Id | None = None
    order_string: Annotated[str, Field(max_length=8192)] | None = Field(
        default=None, description="Alipay: the signed app pay order string the app received."
    )
    lakala_format: Literal["labs", "cashier"] = "labs"


class ActionAccepted(BaseModel):
    channel: str
    out_trade_no: str
    action: str
    plan: list[str]
    delivery_ids: list[str]
    sync_result: dict[str, object] | None = None
    order: dict[str, object] | None = None


class RejectNext(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=256)] = "rejected by the sandbox"


class RejectPrefix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        default="rejected by the sandbox", description="null removes the rule"
    )


@router.post("/actions", status_code=202, response_model=ActionAccepted)
async def act(request: Request, body: ActionRequest) -> ActionAccepted:
    """Run a scenario; 404 unknown order, 409 wrong state, 422 inconsistent command."""
    sandbox = sandbox_of(request)
    command = ActionCommand(**body.model_dump())
    try:
        outcome = run_action(sandbox, command)
    except UnknownOrder as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidCommand as exc:
        raise HTTPException(422, str(exc)) from None
    except SandboxConflict as exc:
        raise HTTPException(409, str(exc)) from None
    sandbox.metrics.control_actions.labels(body.channel, body.action).inc()
    return ActionAccepted(
        channel=body.channel,
        out_trade_no=outcome.out_trade_no,
        action=body.action,
        plan=outcome.plan,
        delivery_ids=[delivery.delivery_id for delivery in outcome.deliveries],
        sync_result=outcome.sync_result,
        order=order_view(outcome.order) if outcome.order is not None else None,
    )


@router.get("/orders/{channel}/{out_trade_no}")
async def get_order(request: Request, channel: Channel, out_trade_no: str) -> dict[str, object]:
    """The order as the channel sees it, with every notification and attempt."""
    order = sandbox_of(request).store.get(channel, out_trade_no)
    if order is None:
        raise HTTPException(404, f"no {channel} order {out_trade_no!r}")
    return order_view(order)


@router.get("/notifications")
async def recent_notifications(
    request: Request,
    channel: Channel | None = None,
    out_trade_no: str | None = None,
    limit: Annotated[int, Query(ge=1, le=RECENT_LIMIT_MAX)] = 100,
) -> dict[str, object]:
    """The most recent deliveries, newest first."""
    deliveries = [
        delivery_view(delivery)
        for delivery in reversed(sandbox_of(request).store.recent_deliveries)
        if (channel is None or delivery.channel == channel)
        and (out_trade_no is None or delivery.out_trade_no == out_trade_no)
    ]
    return {"notifications": deliveries[:limit]}


class FaultSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fault: Fault | None = Field(
        description="timeout (answer after SANDBOX_FAULT_DELAY_MS), error (HTTP 500, nothing "
        "processed), bad_signature (answers signed wrongly), or null to heal the channel"
    )


@router.put("/faults/{channel}")
async def set_fault(request: Request, channel: Channel, body: FaultSetting) -> dict[str, str]:
    """Make a channel's API answers fail in one way until healed (`fault: null`)."""
    faults = sandbox_of(request).faults
    if body.fault is None:
        faults.pop(channel, None)
    else:
        faults[channel] = body.fault
    return {name: fault.value for name, fault in faults.items()}


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, str]:
    """The faults in force, by channel."""
    return {name: fault.value for name, fault in sandbox_of(request).faults.items()}


@router.post("/reset", status_code=204)
async def reset(request: Request) -> None:
    """Forget every order and SAP document (pending deliveries keep running)."""
    sandbox_of(request).store.clear()
    sandbox_of(request).faults.clear()
    book = book_of(request)
    book.documents.clear()
    book.rejections.clear()
    book.reject_next_reasons.clear()


@router.post("/sap/reject-next", status_code=202)
async def sap_reject_next(request: Request, body: RejectNext) -> dict[str, object]:
    """SAP rejects the next new document with `reason` (queued; one per call)."""
    book = book_of(request)
    book.reject_next_reasons.append(body.reason)
    return {"queued_rejections": len(book.reject_next_reasons)}


@router.post("/sap/reject-prefix", status_code=202)
async def sap_reject_prefix(request: Request, body: RejectPrefix) -> dict[str, object]:
    """SAP rejects documents whose reference starts with `prefix` (reason null: stop)."""
    rules = book_of(request).reject_prefixes
    if body.reason is None:
        rules.pop(body.prefix, None)
    else:
        rules[body.prefix] = body.reason
    return {"reject_prefixes": dict(rules)}


@router.get("/lakala/counter/{pay_order_no}", response_class=HTMLResponse)
async def lakala_counter(request: Request, pay_order_no: str) -> HTMLResponse:
    """The 收银台 page a `counter_url` opens: order details and a pay button."""
    order = sandbox_of(request).store.by_channel_id("lakala", pay_order_no)
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
    order = sandbox.store.by_channel_id("lakala", pay_order_no)
    if order is None:
        raise HTTPException(404, "no such 收银台 order")
    if order.state is PayState.PENDING:
        sandbox.mark_paid(order)
        sandbox.notify_payment(order, Outcome.SUCCEEDED)
    return RedirectResponse(f"../{pay_order_no}", status_code=303)
