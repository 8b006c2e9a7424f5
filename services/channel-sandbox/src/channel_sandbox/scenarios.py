"""Control actions: what tests and humans can tell a channel to do with an order.

* open — make the order known (Alipay and POS orders have no create call); state pending.
* pay — paid now; the payment notification after `delay_ms` (default 0).
* fail — failed now (PAYERROR / TRADE_CLOSED / FAIL / respCode 01 / trxstatus 3045), with a
  failure notification where the channel sends one (every channel but WeChat Pay).
* pay_twice — paid now; the SAME signed notification twice concurrently, then once more after
  both were answered and `delay_ms`.
* notify_late — paid now (queries see it); the notification only after `delay_ms` (default 3000).
* notify_out_of_order — paid (if pending) and refunded (`refund_amount_fen`, default the rest, or
  the existing `out_refund_no`); the refund notification first, the payment notification after
  the refund notification's first attempt and `delay_ms` (default 200).
* succeed_sync_then_fail — synchronous answers (prepay/create answer, the app's `sync_result`)
  say paid while queries show pending; after `delay_ms` (default 1000) the order fails, with a
  failure notification where the channel sends one. For a WeChat/Lakala order not created yet
  the action is armed and starts with its create call.
* refund — a channel-side refund (`refund_amount_fen`, default the rest) that succeeds after
  `delay_ms`, with its refund notification.
* refuse_refunds — the channel refuses every later refund request of the order (UnionPay 退货
  respCode 31, Allinpay trxstatus 3999, the others' over-refund answer), as an acquirer does
  for a transaction it will not return.

Orders unknown to the sandbox are created from `amount_fen` (+ `notify_url`, else
`<gateway>/callbacks/<channel>`) as the channel's `SandboxChannel.start_order` says; Alipay
orders may come from the app's signed `order_string` (`read_order_string`). Every channel rule
here comes from the order's `SandboxChannel`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from channel_sandbox import ids
from channel_sandbox.channels.base import Outcome, RequestRejected
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.spec import SandboxChannel
from channel_sandbox.store import Delivery, Order, PayState, Refund

Action = Literal[
    "open",
    "pay",
    "fail",
    "pay_twice",
    "notify_late",
    "notify_out_of_order",
    "succeed_sync_then_fail",
    "refund",
    "refuse_refunds",
]
DEFAULT_DELAY_MS: Final[Mapping[str, int]] = {
    "open": 0,
    "pay": 0,
    "fail": 0,
    "pay_twice": 0,
    "notify_late": 3000,
    "notify_out_of_order": 200,
    "succeed_sync_then_fail": 1000,
    "refund": 0,
    "refuse_refunds": 0,
}


class UnknownOrder(Exception):
    """No such order and not enough to create one (404)."""


class InvalidCommand(Exception):
    """The command contradicts itself or the order (422)."""


@dataclass(frozen=True)
class ActionCommand:
    channel: str
    action: Action
    out_trade_no: str | None = None
    delay_ms: int | None = None
    amount_fen: int | None = None
    notify_url: str | None = None
    refund_amount_fen: int | None = None
    out_refund_no: str | None = None
    order_string: str | None = None
    variant: str | None = None


@dataclass
class ActionOutcome:
    out_trade_no: str
    order: Order | None
    plan: list[str]
    deliveries: list[Delivery] = field(default_factory=list)
    sync_result: dict[str, object] | None = None


def run_action(sandbox: Sandbox, command: ActionCommand) -> ActionOutcome:
    """Apply `command`; raises UnknownOrder, InvalidCommand, SandboxConflict or UnknownChannel."""
    delay_ms = (
        command.delay_ms if command.delay_ms is not None else DEFAULT_DELAY_MS[command.action]
    )
    order = _resolve_order(sandbox, command)
    if order is None:
        assert command.out_trade_no is not None
        sandbox.store.armed_sync_then_fail[(command.channel, command.out_trade_no)] = delay_ms
        plan = [
            "armed: the next prepay/create call for this out_trade_no answers as paid "
            f"synchronously; the order fails {delay_ms} ms after it is created"
        ]
        return ActionOutcome(command.out_trade_no, None, plan)
    if command.notify_url:
        order.notify_url = command.notify_url
    outcome = ACTIONS[command.action](sandbox, order, command, delay_ms / 1000)
    order.note(f"control: {command.action}")
    return outcome


# ---------------------------------------------------------------- orders


def _resolve_order(sandbox: Sandbox, command: ActionCommand) -> Order | None:
    channel = sandbox.channels.channel(command.channel)
    if command.order_string and channel.read_order_string is not None:
        return _signed_order(sandbox, channel, command, command.order_string)
    if not command.out_trade_no:
        raise InvalidCommand("out_trade_no is required")
    order = sandbox.store.get(command.channel, command.out_trade_no)
    if order is not None:
        if command.amount_fen is not None and command.amount_fen != order.amount_fen:
            raise InvalidCommand(f"amount_fen differs from the order's {order.amount_fen}")
        return order
    if command.amount_fen is not None:
        return _create(sandbox, command, command.out_trade_no, command.amount_fen, {})
    if command.action == "succeed_sync_then_fail" and channel.arms_before_create:
        return None
    raise UnknownOrder(
        f"no {command.channel} order {command.out_trade_no!r}: create it through the channel "
        "API first, or pass amount_fen"
    )


def _variant(channel: SandboxChannel, command: ActionCommand) -> str | None:
    """The kind of order asked for: one the channel offers, its first when none is named."""
    if command.variant is None:
        return channel.order_variants[0] if channel.order_variants else None
    if command.variant not in channel.order_variants:
        offered = ", ".join(channel.order_variants) or "none"
        raise InvalidCommand(
            f"{channel.name} has no order variant {command.variant!r} (offered: {offered})"
        )
    return command.variant


def _create(
    sandbox: Sandbox,
    command: ActionCommand,
    out_trade_no: str,
    amount_fen: int,
    request: Mapping[str, object],
) -> Order:
    code = command.channel
    channel = sandbox.channels.channel(code)
    start = channel.start_order(sandbox.keys[code], ids.now_s(), _variant(channel, command))
    return sandbox.create_order(
        channel=code,
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        origin=start.origin,
        channel_txn_id=start.channel_txn_id,
        notify_url=command.notify_url or sandbox.default_notify_url(code),
        request={**request, **start.fields},
        alias_ids=start.alias_ids,
    )


def _signed_order(
    sandbox: Sandbox, channel: SandboxChannel, command: ActionCommand, order_string: str
) -> Order:
    assert channel.read_order_string is not None
    try:
        signed = channel.read_order_string(sandbox.keys[channel.code], order_string)
    except RequestRejected as exc:
        raise InvalidCommand(str(exc)) from None
    if command.out_trade_no and command.out_trade_no != signed.out_trade_no:
        raise InvalidCommand("out_trade_no differs from the order string's")
    order = sandbox.store.get(channel.code, signed.out_trade_no)
    if order is not None:
        if order.amount_fen != signed.amount_fen:
            raise InvalidCommand("the order string's amount differs from the known order's")
        return order
    notify = command.notify_url or signed.notify_url
    with_notify = ActionCommand(channel=channel.code, action=command.action, notify_url=notify)
    return _create(sandbox, with_notify, signed.out_trade_no, signed.amount_fen, signed.fields)


# ---------------------------------------------------------------- actions


ActionFn = Callable[[Sandbox, Order, ActionCommand, float], ActionOutcome]


def _open(sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float) -> ActionOutcome:
    del command, delay_s
    return ActionOutcome(
        order.out_trade_no, order, [f"order known, {sandbox.channel_state(order)}"]
    )


def _pay(sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float) -> ActionOutcome:
    del command
    _require_pending(order)
    sandbox.mark_paid(order)
    deliveries = sandbox.notify_payment(order, Outcome.SUCCEEDED, delay_s=delay_s)
    plan = [
        _state_line(sandbox, order),
        _delivery_line(sandbox, order, "payment notification", delay_s),
    ]
    return ActionOutcome(order.out_trade_no, order, plan, deliveries)


def _fail(sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float) -> ActionOutcome:
    del command
    sandbox.mark_failed(order)
    plan = [_state_line(sandbox, order)]
    deliveries: list[Delivery] = []
    if sandbox.factory.notifies_failures(order.channel):
        deliveries = sandbox.notify_payment(order, Outcome.FAILED, delay_s=delay_s)
        plan.append(_delivery_line(sandbox, order, "failure notification", delay_s))
    else:
        name = sandbox.channels.channel(order.channel).name
        plan.append(f"no notification: {name} notifies successful payments only")
    return ActionOutcome(order.out_trade_no, order, plan, deliveries)


def _pay_twice(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    del command
    _require_pending(order)
    sandbox.mark_paid(order)
    pair = sandbox.notify_payment(order, Outcome.SUCCEEDED, copies=2)
    third = sandbox.repeat(order, pair[0], after=[d.finished for d in pair], delay_s=delay_s)
    plan = [
        _state_line(sandbox, order),
        "deliver the same signed payment notification twice concurrently, each retried until "
        f"{sandbox.channels.channel(order.channel).success_answer}",
        f"then deliver the same bytes once more {int(delay_s * 1000)} ms after both finished",
    ]
    return ActionOutcome(order.out_trade_no, order, plan, [*pair, third])


def _notify_late(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    del command
    _require_pending(order)
    sandbox.mark_paid(order)
    deliveries = sandbox.notify_payment(order, Outcome.SUCCEEDED, delay_s=delay_s)
    plan = [
        _state_line(sandbox, order) + " (queries see it now)",
        _delivery_line(sandbox, order, "payment notification", delay_s),
    ]
    return ActionOutcome(order.out_trade_no, order, plan, deliveries)


def _notify_out_of_order(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    if order.state is PayState.PENDING:
        sandbox.mark_paid(order)
    refund = order.refunds.get(command.out_refund_no or "")
    if refund is None:
        refund = _new_refund(sandbox, order, command)
    sandbox.succeed_refund(order, refund, notify=False)
    first = sandbox.notify_refund(order, refund)
    payment = sandbox.notify_payment(
        order, Outcome.SUCCEEDED, after=[first.first_attempt_done], delay_s=delay_s
    )
    plan = [
        _state_line(sandbox, order)
        + f", refund {refund.out_refund_no} of {refund.amount_fen} fen done",
        _delivery_line(sandbox, order, "refund notification", 0.0),
        f"then the payment notification, {int(delay_s * 1000)} ms after the refund "
        "notification's first attempt was answered",
    ]
    return ActionOutcome(order.out_trade_no, order, plan, [first, *payment])


def _sync_then_fail(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    del command
    channel = sandbox.channels.channel(order.channel)
    sandbox.start_sync_then_fail(order, delay_s)
    plan = [
        "synchronous answers say paid (prepay/create answer, sync_result); queries show "
        f"{sandbox.channel_state(order)}",
        f"after {int(delay_s * 1000)} ms the order fails"
        + (
            ", with a failure notification"
            if channel.notifies_failures
            else f" ({channel.name} sends no failure notification)"
        ),
    ]
    sync_result = channel.sync_result(sandbox.keys[channel.code], order)
    return ActionOutcome(order.out_trade_no, order, plan, sync_result=sync_result)


def _refund(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    refund = _new_refund(sandbox, order, command)
    deliveries: list[Delivery] = []
    if delay_s:
        sandbox.later(delay_s, lambda: sandbox.succeed_refund(order, refund))
    else:
        delivery = sandbox.succeed_refund(order, refund)
        deliveries = [delivery] if delivery is not None else []
    plan = [
        f"refund {refund.out_refund_no} of {refund.amount_fen} fen",
        _delivery_line(sandbox, order, "refund notification", delay_s),
    ]
    return ActionOutcome(order.out_trade_no, order, plan, deliveries)


def _refuse_refunds(
    sandbox: Sandbox, order: Order, command: ActionCommand, delay_s: float
) -> ActionOutcome:
    del sandbox, command, delay_s
    order.refuses_refunds = True
    return ActionOutcome(order.out_trade_no, order, ["every later refund request is refused"])


ACTIONS: Final[Mapping[str, ActionFn]] = {
    "open": _open,
    "pay": _pay,
    "fail": _fail,
    "pay_twice": _pay_twice,
    "notify_late": _notify_late,
    "notify_out_of_order": _notify_out_of_order,
    "succeed_sync_then_fail": _sync_then_fail,
    "refund": _refund,
    "refuse_refunds": _refuse_refunds,
}


# ---------------------------------------------------------------- helpers


def _require_pending(order: Order) -> None:
    if order.state is not PayState.PENDING:
        raise SandboxConflict(f"order is {order.state.value}; this action needs a pending order")


def _new_refund(sandbox: Sandbox, order: Order, command: ActionCommand) -> Refund:
    amount_fen = command.refund_amount_fen or (order.amount_fen - order.requested_refund_fen)
    out_refund_no = command.out_refund_no or ids.sandbox_refund_no()
    if order.refunds.get(out_refund_no) is not None:
        raise SandboxConflict(f"refund {out_refund_no} exists already")
    return sandbox.add_refund(
        order,
        out_refund_no=out_refund_no,
        refund_id=sandbox.channels.channel(order.channel).new_refund_id(ids.now_s()),
        amount_fen=amount_fen,
        notify_url=None,
        reason="sandbox control",
    )


def _state_line(sandbox: Sandbox, order: Order) -> str:
    return f"state {order.state.value} ({sandbox.channel_state(order)})"


def _delivery_line(sandbox: Sandbox, order: Order, what: str, delay_s: float) -> str:
    when = f" after {int(delay_s * 1000)} ms" if delay_s else ""
    return (
        f"deliver the {what} to {order.notify_url}{when}, retried on the {order.channel} "
        f"schedule until {sandbox.channels.channel(order.channel).success_answer}"
    )
