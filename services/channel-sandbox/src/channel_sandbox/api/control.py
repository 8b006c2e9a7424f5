"""The control API: tell a channel what to do, and see what it did (`/sandbox/...`).

`POST /sandbox/actions` runs a scenario (see `channel_sandbox.scenarios`) and answers 202 with
the plan; `GET /sandbox/orders/{channel}/{out_trade_no}` shows the order as the channel sees it
with every notification attempt; `GET /sandbox/notifications` lists recent deliveries. SAP
rejections are steered under `/sandbox/sap/`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from channel_sandbox.api.common import sandbox_of
from channel_sandbox.api.sap import book_of
from channel_sandbox.engine import Fault, SandboxConflict
from channel_sandbox.scenarios import (
    Action,
    ActionCommand,
    InvalidCommand,
    UnknownOrder,
    run_action,
)
from channel_sandbox.spec import UnknownChannel
from channel_sandbox.store import AMOUNT_FEN_MAX, OUT_TRADE_NO_LEN_MAX
from channel_sandbox.views import delivery_view, order_view

RECENT_LIMIT_MAX: Final = 1000
DELAY_MS_MAX: Final = 24 * 3600 * 1000
router = APIRouter(prefix="/sandbox", tags=["Sandbox control"])

Fen = Annotated[int, Field(ge=1, le=AMOUNT_FEN_MAX)]
Url = Annotated[str, Field(max_length=1024, pattern=r"^https?://")]
Id = Annotated[str, Field(min_length=1, max_length=OUT_TRADE_NO_LEN_MAX)]
Channel = Annotated[
    str, Field(min_length=1, max_length=32, description="A channel the sandbox plays (/readyz).")
]


def _known(request: Request, channel: str) -> str:
    """`channel` when the sandbox plays it; 422 otherwise."""
    try:
        return sandbox_of(request).channels.channel(channel).code
    except UnknownChannel as exc:
        raise HTTPException(422, str(exc)) from None


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
    variant: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None,
        description="The kind of order to open, one the channel offers "
        "(Lakala: labs, cashier); its first when not given.",
    )
    lakala_format: Literal["labs", "cashier"] | None = Field(
        default=None, description="The former name of `variant` (Lakala only)."
    )


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
    _known(request, body.channel)
    fields = body.model_dump(exclude={"lakala_format"})
    command = ActionCommand(**{**fields, "variant": body.variant or body.lakala_format})
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
        order=None if outcome.order is None else order_view(outcome.order, sandbox.channel_state),
    )


@router.get("/orders/{channel}/{out_trade_no}")
async def get_order(request: Request, channel: Channel, out_trade_no: str) -> dict[str, object]:
    """The order as the channel sees it, with every notification and attempt."""
    sandbox = sandbox_of(request)
    order = sandbox.store.get(_known(request, channel), out_trade_no)
    if order is None:
        raise HTTPException(404, f"no {channel} order {out_trade_no!r}")
    return order_view(order, sandbox.channel_state)


@router.get("/notifications")
async def recent_notifications(
    request: Request,
    channel: Channel | None = None,
    out_trade_no: str | None = None,
    limit: Annotated[int, Query(ge=1, le=RECENT_LIMIT_MAX)] = 100,
) -> dict[str, object]:
    """The most recent deliveries, newest first."""
    if channel is not None:
        _known(request, channel)
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
    _known(request, channel)
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
