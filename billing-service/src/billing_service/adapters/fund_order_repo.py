"""SQL of fund orders: load an aggregate (under the fund order row lock), add, save.

Locking: every change of a fund order starts with ``get_by_order(..., for_update=True)``,
which takes ``SELECT ... FOR UPDATE`` on the ``fund_orders`` row first and only then reads
its billings and money rows. One lock per order, always taken first, so changes of one
order are serialised (two payments completing one billing end PAID once with the exact
sum) and no two changes can deadlock. ``save`` also checks the row version.

Saving writes the whole (small) aggregate: the fund order and billing rows, payments
upserted by ``(billing_id, payment_id)`` in the order they were applied, and new refunds,
failures and refund requests inserted (existing ones are immutable).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.rows import billing_row, fund_order_row
from billing_service.adapters.tables import (
    SCHEMA,
    billing_failed_payments,
    billing_payments,
    billing_refunds,
    billings,
    fund_orders,
    lease_schedule_changes,
    refund_requests,
)
from billing_service.domain import (
    AppliedPayment,
    AppliedRefund,
    Billing,
    BillingStage,
    CancellationResult,
    Channel,
    DepositPolicy,
    FundOrder,
    LeaseFundOrder,
    LoanShare,
    LoanShareStatus,
    ReminderSchedule,
    ServiceFundOrder,
    next_reminder_at,
)
from billing_service.domain.events import RefundRequested
from billing_service.domain.fund_base import FundOrderBase
from billing_service.domain.payments import PaymentBook
from otd_shared.errors import Conflict
from otd_shared.set_sql import arrays, insert_rows, update_rows

AnyFundOrder = FundOrder | ServiceFundOrder | LeaseFundOrder


def as_uuid(value: str) -> uuid.UUID | None:
    """The id as a UUID, or None when it cannot be one (then nothing has that id)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


_FUND_MATCH: Final = ("fund_order_id", "version")
"""What a fund order row is updated by (``b_``-prefixed in the rows): its id and the
version it was loaded at."""
_PAYMENT_UPSERT: Final = (
    "ON CONFLICT ON CONSTRAINT uq_billing_payments_payment DO UPDATE SET"
    " amount_fen = EXCLUDED.amount_fen,"  # a payment correction
    " refunded_fen = EXCLUDED.refunded_fen,"
    " refund_requested_fen = EXCLUDED.refund_requested_fen"
)


class FundOrderRepository:
    """Reads and writes fund orders inside one session (the UoW's or the consumer's)."""

    def __init__(self, session: AsyncSession, schedule: ReminderSchedule) -> None:
        self._session = session
        self._schedule = schedule
        self._versions: dict[str, int] = {}
        self._reminder_steps: dict[str, int] = {}
        self._stored_billing_ids: dict[str, set[str]] = {}
        """The billing ids each fund order has in the table, as last loaded or written (a
        load replaces them: a savepoint rolled back may have undone an insert)."""
        self._saved_billings: dict[str, dict[str, Any]] = {}
        """The column values of each loaded billing as stored: ``save`` skips the same."""

    async def exists_for_order(self, order_id: str) -> bool:
        """True when the order already has a fund order."""
        key = as_uuid(order_id)
        found = await self._session.scalar(
            sa.select(fund_orders.c.fund_order_id).where(fund_orders.c.order_id == key)
        )
        return found is not None

    async def get_by_order(self, order_id: str, *, for_update: bool = False) -> AnyFundOrder | None:
        """The fund order of an order (vehicle or service), or None."""
        key = as_uuid(order_id)
        if key is None:
            return None
        query = sa.select(fund_orders).where(fund_orders.c.order_id == key)
        head = (
            (await self._session.execute(query.with_for_update() if for_update else query))
            .mappings()
            .first()
        )
        if head is None:
            return None
        return (await self._aggregates([head]))[str(head["order_id"])]

    async def get_many_by_order(self, order_ids: Sequence[str]) -> dict[str, AnyFundOrder]:
        """The fund orders of several orders under their row locks (taken in fund order id
        order, so two batches never deadlock), by order id; unknown orders are absent.
        Three statements for any number of orders (four when one is cancelled)."""
        keys = sorted({key for o in order_ids if (key := as_uuid(o)) is not None})
        if not keys:
            return {}
        heads = (
            (
                await self._session.execute(
                    sa.select(fund_orders)
                    .where(fund_orders.c.order_id == sa.any_(_uuid_array(keys)))
                    .order_by(fund_orders.c.fund_order_id)
                    .with_for_update()
                )
            )
            .mappings()
            .all()
        )
        return await self._aggregates(heads)

    async def _aggregates(self, heads: Sequence[sa.RowMapping]) -> dict[str, AnyFundOrder]:
        """The aggregates of loaded fund order rows, by order id."""
        if not heads:
            return {}
        loaded = await self._load_billings([h["fund_order_id"] for h in heads])
        found: dict[str, AnyFundOrder] = {}
        for head in heads:
            self._versions[str(head["fund_order_id"])] = head["version"]
            found[str(head["order_id"])] = _fund_order(
                head, loaded.get(head["fund_order_id"], []), await self._cancellation_requests(head)
            )
        return found

    def reminder_step(self, billing_id: str) -> int:
        """The last reminder step sent for a loaded billing (0: none)."""
        return self._reminder_steps.get(billing_id, 0)

    def mark_reminded(self, billing_id: str, step: int) -> None:
        """Remember that reminder ``step`` was sent (written by the next ``save``)."""
        self._reminder_steps[billing_id] = max(step, self.reminder_step(billing_id))

    async def add(self, fund: AnyFundOrder) -> None:
        """Insert a new fund order with its billings."""
        await self._session.execute(
            sa.insert(fund_orders).values(
                fund_order_id=uuid.UUID(fund.id),
                order_id=uuid.UUID(fund.order_id),
                customer_id=fund.customer_id,
                price_fen=fund.price_fen,
                created_at=fund.opened_at,
                updated_at=fund.opened_at,
                version=1,
                **fund_order_row(fund),
            )
        )
        await self._insert_billings(fund, fund.billings, at=fund.opened_at)
        self._versions[fund.id] = 1
        money = _MoneyRows()
        money.add(fund, fund.opened_at)
        await self._write_money(money)
        await self._save_schedule_changes(fund)

    async def save(self, fund: AnyFundOrder, *, at: datetime) -> None:
        """Write the changed aggregate (the caller holds the row lock from ``get_by_order``)."""
        version = self._versions[fund.id]
        updated = await self._session.execute(
            sa.update(fund_orders)
            .where(
                fund_orders.c.fund_order_id == uuid.UUID(fund.id),
                fund_orders.c.version == version,
            )
            .values(
                price_fen=fund.price_fen, version=version + 1, updated_at=at, **fund_order_row(fund)
            )
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            raise Conflict(f"fund order {fund.id} was changed concurrently; retry")
        self._versions[fund.id] = version + 1
        await self._save_parts([(fund, at)])

    async def save_many(self, changed: Sequence[tuple[AnyFundOrder, datetime]]) -> None:
        """Write several changed aggregates loaded by ``get_many_by_order`` (their row locks
        held), each with the time of its last change: one statement per kind of row for
        the whole batch (the fund order rows, then a check of their versions)."""
        if not changed:
            return
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for fund, at in changed:
            version = self._versions[fund.id]
            row = {
                "b_fund_order_id": uuid.UUID(fund.id),
                "b_version": version,
                "price_fen": fund.price_fen,
                "version": version + 1,
                "updated_at": at,
                **fund_order_row(fund),
            }
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, rows in by_columns.items():
            await self._session.execute(
                update_rows(fund_orders, _FUND_MATCH, columns[len(_FUND_MATCH) :]),
                arrays(rows, columns),
            )
        await self._check_versions([fund for fund, _ in changed])
        await self._save_parts(changed)

    async def _check_versions(self, funds: Sequence[AnyFundOrder]) -> None:
        """Every fund order row has the version just written (else another writer raced)."""
        ids = [uuid.UUID(f.id) for f in funds]
        versions = [self._versions[f.id] + 1 for f in funds]
        matching = await self._session.scalar(
            sa.text(
                f'SELECT count(*) FROM "{SCHEMA}".fund_orders f JOIN unnest('  # noqa: S608  (a constant)
                "CAST(:ids AS uuid[]), CAST(:versions AS integer[])) AS v(id, version) "
                "ON f.fund_order_id = v.id AND f.version = v.version"
            ),
            {"ids": ids, "versions": versions},
        )
        if matching != len(funds):
            raise Conflict("a fund order of the batch was changed concurrently; retry")
        for fund, version in zip(funds, versions, strict=True):
            self._versions[fund.id] = version

    async def _save_parts(self, changed: Sequence[tuple[AnyFundOrder, datetime]]) -> None:
        """Billings (changed ones updated, new ones inserted), money rows and lease schedule
        changes of saved aggregates."""
        updates: list[dict[str, Any]] = []
        money = _MoneyRows()
        for fund, at in changed:
            stored = self._stored_billing_ids.get(fund.id, set())
            new = [b for b in fund.billings if b.id not in stored]
            for b in fund.billings:
                if b in new:
                    continue
                values = self._billing_values(b)
                if self._saved_billings.get(b.id) == values:
                    continue  # unchanged (a payment touches one billing of three)
                updates.append({"b_billing_id": uuid.UUID(b.id), "updated_at": at, **values})
                self._saved_billings[b.id] = values
            await self._insert_billings(fund, new, at=at)
            money.add(fund, at)
            await self._save_schedule_changes(fund)
        if updates:
            columns = tuple(updates[0])
            await self._session.execute(
                update_rows(billings, ("billing_id",), columns[1:]), arrays(updates, columns)
            )
        await self._write_money(money)

    async def _insert_billings(
        self, fund: AnyFundOrder, new: Sequence[Billing], *, at: datetime
    ) -> None:
        """Insert billings the database does not hold yet (all of a new fund order; a
        lease's payoff billing)."""
        if not new:
            return
        await self._session.execute(
            sa.insert(billings),
            [
                {
                    "billing_id": uuid.UUID(b.id),
                    "fund_order_id": uuid.UUID(fund.id),
                    "order_id": uuid.UUID(fund.order_id),
                    "customer_id": fund.customer_id,
                    "stage": b.stage.value,
                    "updated_at": at,
                    **self._billing_values(b),
                }
                for b in new
            ],
        )
        self._stored_billing_ids.setdefault(fund.id, set()).update(b.id for b in new)

    async def _save_schedule_changes(self, fund: AnyFundOrder) -> None:
        if not isinstance(fund, LeaseFundOrder):
            return
        changes = fund.pull_changes()
        if changes:
            await self._session.execute(
                sa.insert(lease_schedule_changes),
                [
                    {
                        "order_id": uuid.UUID(fund.order_id),
                        "billing_id": c.billing_id,
                        "change": c.change,
                        "detail": c.detail,
                        "actor": c.actor,
                        "changed_at": c.at,
                    }
                    for c in changes
                ],
            )

    # --- writing ----------------------------------------------------------------------

    def _billing_values(self, billing: Billing) -> dict[str, Any]:
        step = self.reminder_step(billing.id)
        return {
            **billing_row(billing),
            "last_reminder_step": step,
            "next_reminder_at": next_reminder_at(billing, self._schedule, range(1, step + 1)),
        }

    async def _write_money(self, money: _MoneyRows) -> None:
        """Payments upserted (their refunded amounts move, a correction moves the amount),
        the other money rows inserted when new (they never change): one statement per kind,
        given its rows as parameters (one compiled statement whatever their number: with
        the rows in ``.values`` every batch size was compiled anew, measured as a fifth of
        the consumer's CPU under load)."""
        if money.payments:
            columns = tuple(money.payments[0])
            await self._session.execute(
                insert_rows(billing_payments, columns, suffix=_PAYMENT_UPSERT),
                arrays(money.payments, columns),
            )
        for table, rows in (
            (billing_refunds, money.refunds),
            (billing_failed_payments, money.failures),
            (refund_requests, money.requests),
        ):
            if rows:
                columns = tuple(rows[0])
                await self._session.execute(
                    insert_rows(table, columns, suffix="ON CONFLICT DO NOTHING"),
                    arrays(rows, columns),
                )

    # --- reading ----------------------------------------------------------------------

    async def _load_billings(
        self, fund_order_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Billing]]:
        """The billings (with their money rows) of fund orders, in two statements."""
        rows = (
            (
                await self._session.execute(
                    sa.select(billings).where(
                        billings.c.fund_order_id == sa.any_(_uuid_array(fund_order_ids))
                    )
                )
            )
            .mappings()
            .all()
        )
        by_id = {str(r["billing_id"]): _billing(r) for r in rows}
        for r in rows:
            self._reminder_steps[str(r["billing_id"])] = r["last_reminder_step"]
        for fund_order_id in fund_order_ids:
            self._stored_billing_ids[str(fund_order_id)] = set()
        for r in rows:
            self._stored_billing_ids[str(r["fund_order_id"])].add(str(r["billing_id"]))
        if rows:
            await self._load_money(by_id, [r["billing_id"] for r in rows])
        grouped: dict[uuid.UUID, list[Billing]] = {}
        for r in rows:
            billing_id = str(r["billing_id"])
            self._saved_billings[billing_id] = self._billing_values(by_id[billing_id])
            grouped.setdefault(r["fund_order_id"], []).append(by_id[billing_id])
        for loaded in grouped.values():
            loaded.sort(key=lambda b: (b.stage.value, b.installment_no))
        return grouped

    async def _load_money(self, by_id: dict[str, Billing], keys: Sequence[uuid.UUID]) -> None:
        """Payments, refunds, failures and refund requests of the billings in ONE statement
        (the hot path of every payment outcome; four round trips were a quarter of it)."""
        rows = await self._session.execute(_money_query(keys))
        for kind, _, billing_id, doc in rows:
            billing = by_id[str(billing_id)]
            match kind:
                case "payment":
                    billing.book.payments[doc["payment_id"]] = AppliedPayment(
                        payment_id=doc["payment_id"],
                        channel=Channel(doc["channel"]),
                        amount_fen=doc["amount_fen"],
                        received_at=_ts(doc["received_at"]),
                        refunded_fen=doc["refunded_fen"],
                        refund_requested_fen=doc["refund_requested_fen"],
                    )
                case "refund":
                    billing.book.refunds[doc["refund_id"]] = AppliedRefund(
                        refund_id=doc["refund_id"],
                        payment_id=doc["payment_id"],
                        amount_fen=doc["amount_fen"],
                        refunded_at=_ts(doc["refunded_at"]),
                    )
                case "failure":
                    billing.book.failed_payment_ids.add(doc["payment_id"])
                case _:
                    billing.refund_requests.append(_request_from_doc(doc))

    async def _cancellation_requests(self, head: sa.RowMapping) -> tuple[RefundRequested, ...]:
        if head["cancelled_at"] is None:
            return ()
        rows = await self._session.execute(
            sa.select(refund_requests)
            .where(
                refund_requests.c.order_id == head["order_id"],
                refund_requests.c.on_cancellation.is_(True),
            )
            .order_by(refund_requests.c.seq)
        )
        return tuple(_request(q) for q in rows)


# --- row → domain -------------------------------------------------------------------------

_MONEY_KINDS: tuple[tuple[str, sa.Table, str | None], ...] = (
    ("payment", billing_payments, "id"),  # in the order they were applied
    ("refund", billing_refunds, None),
    ("failure", billing_failed_payments, None),
    ("request", refund_requests, "seq"),  # in the order they were made
)


def _json_pairs(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """'name', column, ... of every column: the arguments of json_build_object."""
    pairs: list[sa.ColumnElement[Any]] = []
    for column in table.c:
        pairs += [sa.literal_column(f"'{column.name}'"), column]
    return pairs


def _money_query(keys: Sequence[uuid.UUID]) -> sa.Select[Any]:
    """(kind, order, billing_id, row as JSON) of every money row of the billings; ordered
    by ``order``, which keeps each kind in its load order."""
    parts = [
        sa.select(
            sa.literal_column(f"'{kind}'", sa.Text).label("kind"),
            (table.c[order] if order else sa.literal_column("0", sa.BigInteger)).label("seq"),
            table.c.billing_id,
            sa.func.json_build_object(*_json_pairs(table), type_=sa.JSON).label("doc"),
        ).where(table.c.billing_id == sa.any_(_uuid_array(keys)))
        for kind, table, order in _MONEY_KINDS
    ]
    money = sa.union_all(*parts).subquery()
    return sa.select(money).order_by(money.c.seq)


def _uuid_array(keys: Sequence[uuid.UUID]) -> sa.BindParameter[Any]:
    """One array parameter (``= ANY(...)``): the same statement text for any count, so
    the statement caches hit."""
    return sa.bindparam(None, list(keys), type_=ARRAY(UUID(as_uuid=True)))


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _request_from_doc(doc: dict[str, Any]) -> RefundRequested:
    return _request(SimpleNamespace(**{**doc, "requested_at": _ts(doc["requested_at"])}))


def _billing(r: sa.RowMapping) -> Billing:
    return Billing(
        id=str(r["billing_id"]),
        order_id=str(r["order_id"]),
        customer_id=r["customer_id"],
        stage=BillingStage(r["stage"]),
        amount_fen=r["amount_fen"],
        loan_share_fen=r["loan_share_fen"],
        due_at=r["due_at"],
        cancelled_at=r["cancelled_at"],
        retained_fen=r["retained_fen"],
        installment_no=r["installment_no"],
        scheduled_due_at=r["scheduled_due_at"],
        overdue_at=r["overdue_at"],
        superseded=r["superseded"],
        book=PaymentBook(),
    )


def _request(q: Any) -> RefundRequested:
    return RefundRequested(
        order_id=str(q.order_id),
        occurred_at=q.requested_at,
        billing_id=str(q.billing_id),
        stage=q.stage,
        refund_request_id=q.refund_request_id,
        payment_id=q.payment_id,
        channel=q.channel,
        amount_fen=q.amount_fen,
        reason=q.reason,
    )


def _fund_order(
    head: sa.RowMapping, loaded: list[Billing], requests: tuple[RefundRequested, ...]
) -> AnyFundOrder:
    common: dict[str, Any] = {
        "id": str(head["fund_order_id"]),
        "order_id": str(head["order_id"]),
        "customer_id": head["customer_id"],
        "price_fen": head["price_fen"],
        "opened_at": head["created_at"],
        "cancellation": _cancellation(head, requests),
    }
    by_stage = {b.stage.value: b for b in loaded}
    if head["kind"] == "lease":
        return LeaseFundOrder(
            **common,
            parent_order_id=str(head["parent_order_id"]),
            installments=[b for b in loaded if b.stage is BillingStage.INSTALLMENT],
            payoff=by_stage.get(BillingStage.PAYOFF.value),
        )
    if head["kind"] == "service":
        return ServiceFundOrder(
            **common, parent_order_id=str(head["parent_order_id"]), service=by_stage["service"]
        )
    return FundOrder(
        **common,
        policy=DepositPolicy(
            name=head["policy_name"],
            intent_fen=head["policy_intent_fen"],
            firm_fen=head["policy_firm_fen"],
            intent_refundable_after_lock=head["intent_refundable_after_lock"],
            firm_refundable_after_lock=head["firm_refundable_after_lock"],
        ),
        intent=by_stage["intent"],
        firm=by_stage["firm"],
        final=by_stage["final"],
        loan=LoanShare(
            status=LoanShareStatus(head["loan_status"]),
            requested_fen=head["loan_requested_fen"],
            principal_fen=head["loan_principal_fen"],
            bank_reference=head["loan_bank_reference"],
        ),
        locked_at=head["locked_at"],
    )


def _cancellation(
    head: sa.RowMapping, requests: tuple[RefundRequested, ...]
) -> CancellationResult | None:
    if head["cancelled_at"] is None:
        return None
    return CancellationResult(
        cancelled_at=head["cancelled_at"],
        refund_fen=head["cancel_refund_fen"],
        retained_fen=head["cancel_retained_fen"],
        reason=head["cancel_reason"],
        refund_requests=requests,
    )


# --- domain → rows ------------------------------------------------------------------------


class _MoneyRows:
    """The money rows of saved aggregates, written together (``_write_money``)."""

    def __init__(self) -> None:
        self.payments: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def add(self, fund: AnyFundOrder, at: datetime) -> None:
        """Every money row of ``fund`` (payments in the order they were applied)."""
        cancelled_ids = {
            r.refund_request_id
            for r in (fund.cancellation.refund_requests if fund.cancellation else ())
        }
        for b in fund.billings:
            key = uuid.UUID(b.id)
            self.payments += [_payment_row(fund, b, p) for p in b.book.payments.values()]
            self.refunds += [_refund_row(key, r) for r in b.book.refunds.values()]
            self.failures += [
                {"billing_id": key, "payment_id": pid, "recorded_at": at}
                for pid in sorted(b.book.failed_payment_ids)
            ]
            self.requests += [
                _request_row(key, r, r.refund_request_id in cancelled_ids)
                for r in b.refund_requests
            ]


def _payment_row(fund: FundOrderBase, billing: Billing, p: AppliedPayment) -> dict[str, Any]:
    return {
        "billing_id": uuid.UUID(billing.id),
        "payment_id": p.payment_id,
        "order_id": uuid.UUID(fund.order_id),
        "customer_id": fund.customer_id,
        "stage": billing.stage.value,
        "channel": p.channel.value,
        "amount_fen": p.amount_fen,
        "refunded_fen": p.refunded_fen,
        "refund_requested_fen": p.refund_requested_fen,
        "received_at": p.received_at,
    }


def _refund_row(billing_id: uuid.UUID, r: AppliedRefund) -> dict[str, Any]:
    return {
        "billing_id": billing_id,
        "refund_id": r.refund_id,
        "payment_id": r.payment_id,
        "amount_fen": r.amount_fen,
        "refunded_at": r.refunded_at,
    }


def _request_row(
    billing_id: uuid.UUID, r: RefundRequested, on_cancellation: bool
) -> dict[str, Any]:
    return {
        "refund_request_id": r.refund_request_id,
        "billing_id": billing_id,
        "order_id": uuid.UUID(r.order_id),
        "stage": r.stage,
        "payment_id": r.payment_id,
        "channel": r.channel,
        "amount_fen": r.amount_fen,
        "reason": r.reason,
        "on_cancellation": on_cancellation,
        "requested_at": r.occurred_at,
    }
