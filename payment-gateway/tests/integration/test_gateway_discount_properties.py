"""Property (hypothesis, real PostgreSQL): no sequence of concurrent draws, successes,
failures and refunds takes an activity past a cap or its budget, and every confirmed discount
posts exactly one ledger journal (Dr marketing_expense / Cr deposits), a reversed one exactly
one more (the reverse).

Each example runs a fresh activity for its own store through the real API, real signed
WeChat notifications, the refund scheduler and the ``gateway-discounts`` handler; the ledger
side is a real ledger database of the session: the discount events the gateway wrote go
through the ledger's own postings consumer (inbox, mapping, rules, journals), each delivered
twice, and the journals are counted there.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_service.adapters.tables import SCHEMA as LEDGER_SCHEMA
from ledger_service.adapters.tables import journal_lines, journals
from ledger_service.bootstrap import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from ledger_service.bootstrap import LedgerRuntime
from ledger_service.bootstrap import build as build_ledger
from ledger_service.config import LedgerSettings
from otd_shared.consumer import EventConsumer
from otd_shared.events import EventEnvelope
from otd_shared.migrations import upgrade_head_async
from payment_gateway.testing.discounts import DiscountDriver
from payment_gateway.testing.harness import Harness

pytestmark = pytest.mark.integration
AMOUNTS_FEN = (999, 1_000, 10_000)  # below, at and above the threshold
CUSTOMERS = 3

step = st.one_of(
    st.tuples(
        st.just("pay"),
        st.lists(
            st.tuples(st.integers(0, CUSTOMERS - 1), st.sampled_from(AMOUNTS_FEN)),
            min_size=1,
            max_size=6,
        ),
    ),
    st.tuples(st.just("succeed"), st.integers(0, 50)),
    st.tuples(st.just("close"), st.integers(0, 50)),
    st.tuples(st.just("refund"), st.integers(0, 50)),
)
activity = st.fixed_dictionaries(
    {
        "cap_total": st.integers(1, 5),
        "cap_per_customer": st.none() | st.integers(1, 2),
        "budget_share": st.floats(0.2, 1.0, allow_nan=False),
        "refund_returns_to_budget": st.booleans(),
        "max_fen": st.sampled_from([100, 300, 500]),
    }
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule=activity, script=st.lists(step, min_size=1, max_size=8))
async def test_no_sequence_exceeds_a_cap_or_the_budget(
    harness: Harness, ledger: Ledger, rule: dict[str, Any], script: list[tuple[str, Any]]
) -> None:
    dd = DiscountDriver(harness)
    await dd.skip_existing()
    shop = f"S-{uuid.uuid4().hex[:10]}"
    top_fen = rule["cap_total"] * rule["max_fen"]
    budget_fen = max(100, int(top_fen * rule["budget_share"]))
    created = await dd.running(
        shop,
        cap_total=rule["cap_total"],
        cap_per_customer=rule["cap_per_customer"],
        budget_fen=budget_fen,
        min_fen=100,
        max_fen=rule["max_fen"],
        refund_returns_to_budget=rule["refund_returns_to_budget"],
    )
    customers = [f"cust-{uuid.uuid4().hex[:8]}" for _ in range(CUSTOMERS)]
    world = World(dd, shop, customers)
    for kind, arg in script:
        await world.run(kind, arg)
        await dd.follow()
        await check_caps(dd, created, rule, budget_fen)
    await check_one_journal_each(dd, ledger, created["activity_id"])


class World:
    """The payments of one example and what happened to them."""

    def __init__(self, dd: DiscountDriver, shop: str, customers: list[str]) -> None:
        self.dd, self.shop, self.customers = dd, shop, customers
        self.open: list[dict[str, Any]] = []
        self.paid: list[tuple[dict[str, Any], str]] = []

    async def run(self, kind: str, arg: Any) -> None:
        match kind:
            case "pay":
                await self._pay_together(arg)
            case "succeed" if self.open:
                created = self.open.pop(arg % len(self.open))
                self.paid.append((created, await self.dd.pay_notified(created)))
            case "close" if self.open:
                await self.dd.close(self.open.pop(arg % len(self.open)))
            case "refund" if self.paid:
                created, txn_id = self.paid.pop(arg % len(self.paid))
                await self.dd.refund(created, txn_id)

    async def _pay_together(self, payers: list[tuple[int, int]]) -> None:
        billings = [
            (await self.dd.billing(customer=self.customers[c]), amount) for c, amount in payers
        ]
        answers = await asyncio.gather(
            *(self.dd.start(b, amount, self.shop) for b, amount in billings)
        )
        for answer in answers:
            assert answer.status_code == 201, answer.text
            body = answer.json()
            assert body["amount_fen"] + body["discount_fen"] == body["requested_amount_fen"]
            self.open.append(body)


async def check_caps(
    dd: DiscountDriver, created: dict[str, Any], rule: dict[str, Any], budget_fen: int
) -> None:
    draws = await dd.draws(created["activity_id"])
    holding = [
        d
        for d in draws
        if d["status"] in ("reserved", "confirmed")
        or (d["status"] == "reversed" and d["returned_to_budget"] is False)
    ]
    assert len(holding) <= rule["cap_total"]
    assert sum(d["amount_fen"] for d in holding) <= budget_fen
    if rule["cap_per_customer"] is not None:
        per_customer = Counter(
            d["customer_id"] for d in draws if d["status"] in ("reserved", "confirmed")
        )
        assert max(per_customer.values(), default=0) <= rule["cap_per_customer"]
    cards = {d["card_id"] for d in draws if d["status"] in ("reserved", "confirmed")}
    assert len(cards) == len([d for d in draws if d["status"] in ("reserved", "confirmed")])
    report = await dd.report(created["activity_id"])
    assert 0 <= report["budget_left_fen"] <= budget_fen


class Ledger:
    """A real ledger database and its postings consumer, fed records by hand (no broker)."""

    def __init__(self, runtime: LedgerRuntime) -> None:
        self.runtime = runtime
        self.consumer: EventConsumer = runtime.build_consumer(runtime.consumers[0])
        self._offsets = itertools.count()

    async def deliver(self, envelopes: list[EventEnvelope]) -> None:
        """Each envelope as the next record of the payments topic, in one batch."""
        records = [
            ConsumerRecord(
                topic="otd.payments", partition=0, offset=next(self._offsets), timestamp=0,
                timestamp_type=0, key=e.partition_key, value=e.model_dump_json().encode(),
                checksum=None, serialized_key_size=0, serialized_value_size=0, headers=(),
            )
            for e in envelopes
        ]  # fmt: skip
        await self.consumer.process(records)

    async def debits(self, event_ids: list[uuid.UUID]) -> Counter[str]:
        """Journals of these events by the account each debits (one count per journal)."""
        query = (
            sa.select(journal_lines.c.account, sa.func.count(sa.distinct(journals.c.journal_id)))
            .join(journals, journals.c.journal_id == journal_lines.c.journal_id)
            .where(
                journals.c.source_id.in_([str(i) for i in event_ids]),
                journal_lines.c.debit_fen > 0,
            )
            .group_by(journal_lines.c.account)
        )
        async with self.runtime.sessions() as session:
            return Counter({a: int(n) for a, n in (await session.execute(query)).all()})


@pytest.fixture(scope="module")
async def ledger(new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Ledger]:
    url = await new_database()
    await upgrade_head_async(LEDGER_MIGRATIONS, url, LEDGER_SCHEMA)
    settings = LedgerSettings(
        database_url=url, kafka_bootstrap_servers="127.0.0.1:1", log_json=False
    )
    runtime = build_ledger(settings)
    try:
        yield Ledger(runtime)
    finally:
        await runtime.engine.dispose()


async def check_one_journal_each(dd: DiscountDriver, ledger: Ledger, activity_id: str) -> None:
    """Every confirmed (or later reversed) discount: one expense journal, and one reversal,
    in the real ledger, however often its events are delivered."""
    for draw in await dd.draws(activity_id):
        envelopes = await discount_envelopes(dd, str(draw["discount_payment_id"]))
        await ledger.deliver(envelopes)
        await ledger.deliver(envelopes)  # a redelivery changes nothing
        debits = await ledger.debits([e.event_id for e in envelopes])
        expected = {
            "confirmed": {"marketing_expense": 1},
            "reversed": {"marketing_expense": 1, f"deposits:{draw['order_id']}": 1},
        }.get(draw["status"], {})
        assert dict(debits) == expected, (draw["status"], debits)


async def discount_envelopes(dd: DiscountDriver, discount_payment_id: str) -> list[EventEnvelope]:
    outbox = dd.h.runtime.tables.outbox
    async with dd.h.gw.sessions() as session:
        rows = await session.execute(
            outbox.select().where(
                outbox.c.event_type == "PaymentCallback",
                outbox.c.body.contains(discount_payment_id),
            )
        )
        bodies = [json.loads(r.body) for r in rows]
    return [
        EventEnvelope.model_validate(b)
        for b in bodies
        if b["payload"]["payment_id"] == discount_payment_id
    ]
