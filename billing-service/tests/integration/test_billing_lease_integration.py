"""Leases on real PostgreSQL: the schedule opened from OrderCreated, the lease job falling
installments due and marking them overdue (pushed to the app backend), payments, early
payoff through the API, the schedule change log, and cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from billing_service.service_layer.leases import LeaseJob
from otd_shared.events import LeaseInstallment, OrderCancelled, OrderCreated

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration
MONTHLY_FEN, MONTHS = 250_000, 12
# The Shanghai calendar day a UTC instant falls on is what due dates are written in.
TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()


def schedule(first: date) -> tuple[LeaseInstallment, ...]:
    def month(n: int) -> date:
        index = first.month - 1 + n
        return date(first.year + index // 12, index % 12 + 1, min(first.day, 28))

    return tuple(
        LeaseInstallment(number=n + 1, due_date=month(n), amount_fen=MONTHLY_FEN)
        for n in range(MONTHS)
    )


async def open_lease(billing: BillingHarness, first: date) -> str:
    order_id = str(uuid.uuid4())
    await billing.deliver(
        OrderCreated(
            order_id=order_id, customer_id=billing.customer_id, order_kind="service",
            vehicle_model="OTD-S", price_fen=MONTHLY_FEN * MONTHS,
            parent_order_id=str(uuid.uuid4()), service_kind="leasing",
            lease_installments=schedule(first),
        )
    )  # fmt: skip
    return order_id


async def lease(billing: BillingHarness, order_id: str) -> dict[str, Any]:
    response = await billing.http.get(f"/v1/leases/{order_id}", headers=billing.auth("finance"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_back_dated_lease_is_due_and_overdue_then_paid_off_early(
    billing: BillingHarness,
) -> None:
    # The first installment was due ten days ago: due at once, overdue after 5 days' grace.
    order_id = await open_lease(billing, TODAY - timedelta(days=10))
    view = await lease(billing, order_id)
    first, second = view["installments"][0], view["installments"][1]
    assert (first["status"], first["installment_no"], first["overdue_at"] is not None) == (
        "due",
        1,
        True,
    )
    assert second["status"] == "pending"
    assert sum(b["amount_fen"] for b in view["installments"]) == MONTHLY_FEN * MONTHS
    types = await billing.outbox_types(order_id)
    assert types.count("BillingScheduled") == MONTHS
    assert types.count("BillingDue") == 1
    [overdue] = await billing.outbox(order_id, "InstallmentOverdue")
    assert overdue["payload"]["outstanding_fen"] == MONTHLY_FEN
    pushed = await billing.http.get(
        "/v1/webhook-deliveries", params={"order_id": order_id}, headers=billing.auth("finance")
    )
    assert {"BillingDue", "InstallmentOverdue"} <= {d["event_type"] for d in pushed.json()["items"]}

    # Two installments paid (one by wire ahead of its date), then the rest at once.
    await billing.callback(order_id, first["billing_id"], MONTHLY_FEN)
    await billing.callback(order_id, second["billing_id"], MONTHLY_FEN, channel="wire")
    response = await billing.http.post(
        f"/v1/leases/{order_id}/payoff", headers=billing.auth("app-backend")
    )
    assert response.status_code == 200, response.text
    paid_off = response.json()
    payoff = paid_off["payoff"]
    assert payoff["amount_fen"] == MONTHLY_FEN * (MONTHS - 2)
    assert payoff["status"] == "due"
    live = [b for b in paid_off["installments"] if not b["superseded"]]
    assert [b["installment_no"] for b in live] == [1, 2]
    assert sum(b["amount_fen"] for b in live) + payoff["amount_fen"] == MONTHLY_FEN * MONTHS
    assert [c["change"] for c in paid_off["changes"]] == [
        "opened",
        "fell_due",
        "overdue",
        "paid_off",
    ]
    again = await billing.http.post(
        f"/v1/leases/{order_id}/payoff", headers=billing.auth("app-backend")
    )
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")

    await billing.callback(order_id, payoff["billing_id"], payoff["amount_fen"])
    done = await lease(billing, order_id)
    assert (done["status"], done["outstanding_fen"]) == ("paid", 0)
    [*_, last_paid] = await billing.outbox(order_id, "BillingPaid")
    assert last_paid["payload"]["fund_order_paid"] is True


async def test_the_lease_job_falls_installments_due_on_their_date_and_marks_overdue(
    billing: BillingHarness,
) -> None:
    order_id = await open_lease(billing, TODAY + timedelta(days=3))
    job = LeaseJob(billing.runtime.sessions, billing.runtime.outbox, billing.settings)
    assert (await lease(billing, order_id))["installments"][0]["status"] == "pending"
    first_due = datetime.fromisoformat(
        (await lease(billing, order_id))["installments"][0]["scheduled_due_at"]
    )
    assert await job.advance_due(now=first_due - timedelta(seconds=1)) == 0
    assert await job.advance_due(now=first_due) >= 1
    assert (await lease(billing, order_id))["installments"][0]["status"] == "due"
    assert await job.advance_due(now=first_due + timedelta(days=6)) >= 1
    view = await lease(billing, order_id)
    assert view["installments"][0]["overdue_at"] is not None
    assert (await billing.outbox_types(order_id)).count("InstallmentOverdue") == 1
    # Nothing left to do at the same instant: a second round changes nothing for this lease.
    before = await billing.outbox_types(order_id)
    await job.advance_due(now=first_due + timedelta(days=6))
    assert await billing.outbox_types(order_id) == before


async def test_a_cancelled_lease_refunds_what_was_paid_and_cannot_be_paid_off(
    billing: BillingHarness,
) -> None:
    order_id = await open_lease(billing, TODAY - timedelta(days=1))
    first = (await lease(billing, order_id))["installments"][0]
    await billing.callback(order_id, first["billing_id"], MONTHLY_FEN)
    await billing.deliver(
        OrderCancelled(
            order_id=order_id, reason="customer withdrew", cancelled_by="app",
            previous_status="paid",
        )
    )  # fmt: skip
    [refund] = await billing.outbox(order_id, "RefundRequested")
    assert refund["payload"]["amount_fen"] == MONTHLY_FEN
    response = await billing.http.post(
        f"/v1/leases/{order_id}/payoff", headers=billing.auth("app-backend")
    )
    assert response.status_code == 409


async def test_a_lease_view_of_an_unknown_or_a_non_lease_order_is_refused(
    billing: BillingHarness,
) -> None:
    unknown = await billing.http.get(f"/v1/leases/{uuid.uuid4()}", headers=billing.auth("finance"))
    assert unknown.status_code == 404
    vehicle = await billing.open_order()
    refused = await billing.http.get(f"/v1/leases/{vehicle}", headers=billing.auth("finance"))
    assert refused.status_code == 409
    forbidden = await billing.http.post(
        f"/v1/leases/{vehicle}/payoff", headers=billing.auth("finance")
    )
    assert forbidden.status_code == 403
