"""Cash at the store: receipts, reversals (finance-approver, with a reason) and day closes.

A receipt is a succeeded ``cash`` payment at once (PaymentCallback with the store: the ledger
books Dr cash:<store> / Cr deposits:<order>); the money stays in ``cash:<store>`` until the
deposit reaches the bank (recon's cash statement, then the ledger's cash deposit). A reversal
takes it back (PaymentCallback ``reversed``: Dr deposits / Cr cash:<store>). The day close
freezes the store's day and produces the cash deposit report in recon's cash layout.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from otd_shared.channels import ChannelCode
from otd_shared.errors import Conflict, InvalidInput, NotFound
from payment_gateway.adapters.cash_repo import CashReceipt, DayClose
from payment_gateway.domain.offline_refund import OfflineRefund
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.service_layer import offline_payments
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

CASH_METHOD = "cash_receipt"
REPORT_COLUMNS = (
    "date",
    "store_id",
    "receipt_no",
    "order_ref",
    "amount_fen",
    "cashier",
    "time",
    "kind",
)


class ReceiptNumberTaken(Conflict):
    """The store already has this receipt number for another billing or amount."""

    code = "receipt_no_taken"


class DayClosed(Conflict):
    """The store's cash day is closed: nothing more is recorded or reversed on it."""

    code = "day_closed"


class UnknownStore(InvalidInput):
    """The store is not registered."""

    code = "unknown_store"


@dataclass(frozen=True)
class RecordReceipt:
    """The cashier's receipt."""

    billing_id: uuid.UUID
    amount_fen: int
    receipt_no: str
    store_id: str
    actor: str


async def record_receipt(gw: Gateway, cmd: RecordReceipt) -> tuple[CashReceipt, bool]:
    """The receipt and whether it is new (the same receipt again returns the first)."""
    now = gw.now()
    day = now.astimezone(CHANNEL_TZ).date()
    async with gw.uow() as uow:
        known = await uow.cash.by_number(cmd.store_id, cmd.receipt_no)
        if known is not None:
            return _same_receipt(known, cmd), False
        await _check_store_open(uow, cmd.store_id, day)
        billing = await offline_payments.payable_billing(
            gw, uow, cmd.billing_id, channel=ChannelCode.CASH, amount_fen=cmd.amount_fen
        )
        payment = await offline_payments.record_payment(
            uow,
            billing,
            channel=ChannelCode.CASH,
            method=CASH_METHOD,
            amount_fen=cmd.amount_fen,
            channel_txn_id=f"{cmd.store_id}:{cmd.receipt_no}",
            actor=cmd.actor,
            now=now,
            store_id=cmd.store_id,
        )
        receipt = CashReceipt(
            receipt_id=uuid.uuid4(),
            store_id=cmd.store_id,
            receipt_no=cmd.receipt_no,
            billing_id=billing.billing_id,
            order_id=billing.order_id,
            payment_id=payment.payment_id,
            out_trade_no=payment.out_trade_no,
            amount_fen=cmd.amount_fen,
            cashier=cmd.actor,
            business_date=day,
            status="recorded",
            created_at=now,
        )
        if not await uow.cash.add(receipt):
            raise ReceiptNumberTaken(
                f"receipt {cmd.receipt_no} was just recorded at {cmd.store_id}"
            )
        await uow.commit()
    gw.metrics.cash_receipts.labels("recorded").inc()
    return receipt, True


def _same_receipt(known: CashReceipt, cmd: RecordReceipt) -> CashReceipt:
    if known.billing_id != cmd.billing_id or known.amount_fen != cmd.amount_fen:
        raise ReceiptNumberTaken(
            f"receipt {cmd.receipt_no} of store {cmd.store_id} is already recorded for another "
            "billing or amount"
        )
    return known


async def _check_store_open(uow: GatewayUnitOfWork, store_id: str, day: date) -> None:
    if not await uow.pos.store_exists(store_id):
        raise UnknownStore(f"store {store_id} is not registered", field="store_id")
    if await uow.cash.get_close(store_id, day) is not None:
        raise DayClosed(f"the cash day {day} of store {store_id} is closed")


async def reverse_receipt(
    gw: Gateway, receipt_id: uuid.UUID, *, actor: str, reason: str
) -> CashReceipt:
    """A finance-approver reverses a receipt (the payment is reversed, billing and ledger
    follow); the reversal counts on the day it is made."""
    now = gw.now()
    day = now.astimezone(CHANNEL_TZ).date()
    async with gw.uow() as uow:
        receipt = await uow.cash.get(receipt_id, for_update=True)
        if receipt is None:
            raise NotFound(f"cash receipt {receipt_id} not found")
        await _check_store_open(uow, receipt.store_id, day)
        reversed_receipt = await uow.cash.mark_reversed(
            receipt_id, actor=actor, reason=reason, day=day, now=now
        )
        if reversed_receipt is None or reversed_receipt.reversal_id is None:
            raise Conflict(f"cash receipt {receipt_id} is already reversed")
        await offline_payments.reverse_payment(
            uow,
            receipt.payment_id,
            reversal_id=reversed_receipt.reversal_id,
            reason=reason,
            now=now,
            store_id=receipt.store_id,
        )
        await uow.commit()
    gw.metrics.cash_receipts.labels("reversed").inc()
    return reversed_receipt


async def get_receipt(gw: Gateway, receipt_id: uuid.UUID) -> CashReceipt:
    """One receipt, or NotFound."""
    async with gw.uow() as uow:
        receipt = await uow.cash.get(receipt_id)
    if receipt is None:
        raise NotFound(f"cash receipt {receipt_id} not found")
    return receipt


async def list_receipts(
    gw: Gateway, *, store_id: str | None, day: date | None, limit: int, offset: int
) -> list[CashReceipt]:
    """Receipts by store and day."""
    async with gw.uow() as uow:
        return await uow.cash.list(store_id=store_id, day=day, limit=limit, offset=offset)


async def close_day(gw: Gateway, store_id: str, day: date, actor: str) -> tuple[DayClose, bool]:
    """Close a store's cash day (once; a second close returns the first) and keep its report."""
    today = gw.now().astimezone(CHANNEL_TZ).date()
    if day > today:
        raise InvalidInput(f"{day} is in the future; only past days and today close", field="date")
    async with gw.uow() as uow:
        known = await uow.cash.get_close(store_id, day)
        if known is not None:
            return known, False
        if not await uow.pos.store_exists(store_id):
            raise UnknownStore(f"store {store_id} is not registered", field="store_id")
        receipts = await uow.cash.of_day(store_id, day)
        payouts = await uow.offline_refunds.cash_payouts_of_day(store_id, day)
        close = day_report(store_id, day, receipts, actor, gw, payouts=payouts)
        if not await uow.cash.add_close(close):
            raise Conflict(f"the cash day {day} of store {store_id} was just closed")
        await uow.commit()
    return close, True


def day_report(
    store_id: str,
    day: date,
    receipts: list[CashReceipt],
    actor: str,
    gw: Gateway,
    *,
    payouts: Sequence[tuple[OfflineRefund, str]] = (),
) -> DayClose:
    """The deposit report: receipts of the day (payment), reversals made that day and refunds
    paid back at the till that day (refund; both counted in ``reversals_*``, the money that
    left the till), as recon's cash statement reads it (recon-service
    adapters/statements/cash.py)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    receipts_fen = reversals_fen = receipts_count = reversals_count = 0
    for r in receipts:
        if r.business_date == day:
            receipts_count += 1
            receipts_fen += r.amount_fen
            writer.writerow(_row(r, day, r.created_at, "payment"))
        if r.reversal_date == day and r.reversed_at is not None:
            reversals_count += 1
            reversals_fen += r.amount_fen
            writer.writerow(_row(r, day, r.reversed_at, "refund"))
    for payout, out_trade_no in payouts:
        reversals_count += 1
        reversals_fen += payout.amount_fen
        writer.writerow(_payout_row(payout, out_trade_no, day))
    return DayClose(
        store_id=store_id,
        business_date=day,
        receipts_count=receipts_count,
        receipts_fen=receipts_fen,
        reversals_count=reversals_count,
        reversals_fen=reversals_fen,
        total_fen=receipts_fen - reversals_fen,
        report_csv=out.getvalue(),
        closed_by=actor,
        closed_at=gw.now(),
    )


def _payout_row(payout: OfflineRefund, out_trade_no: str, day: date) -> list[str]:
    """A refund paid back at the till (offline refunds queue), as a ``refund`` line."""
    assert payout.completed_at is not None, "a payout of the day is completed"
    assert payout.cash_voucher_no is not None, "a cash payout has its till voucher"
    local = payout.completed_at.astimezone(CHANNEL_TZ).strftime("%H:%M:%S")
    return [
        day.isoformat(),
        payout.store_id or "",
        payout.cash_voucher_no,
        out_trade_no,
        str(payout.amount_fen),
        payout.completed_by or "",
        local,
        "refund",
    ]


def _row(r: CashReceipt, day: date, at: datetime, kind: str) -> list[str]:
    local = at.astimezone(CHANNEL_TZ).strftime("%H:%M:%S")
    return [
        day.isoformat(),
        r.store_id,
        r.receipt_no,
        r.out_trade_no,
        str(r.amount_fen),
        r.cashier,
        local,
        kind,
    ]


async def get_close(gw: Gateway, store_id: str, day: date) -> DayClose:
    """A store's day close, or NotFound."""
    async with gw.uow() as uow:
        close = await uow.cash.get_close(store_id, day)
    if close is None:
        raise NotFound(f"the cash day {day} of store {store_id} is not closed")
    return close
