"""Consumed events → journals, through the real broker: every posting rule, unposted events,
JournalPosted through the outbox relay, and a replay of every topic from the start."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from ledger_testkit import (
    integrity_of,
    migrated,
    payment,
    running,
    scenario,
    settings_for,
    snapshot,
    unique,
)

from ledger_service.adapters.tables import journals, messaging, unposted_events
from ledger_service.bootstrap import LedgerRuntime
from ledger_service.service_layer.queries import LedgerQueries
from otd_shared.events import (
    EventEnvelope,
    EventPayload,
    OrderDelivered,
    ReconCompleted,
    RefundRequested,
    ServiceOrderCompleted,
    Topic,
    WireReceived,
    new_envelope,
    topic_for,
)
from otd_shared.kafka import EventProducer
from otd_shared.runtime import ConsumerSpec, run_relay
from otd_shared.testing.cluster import eventually

pytestmark = pytest.mark.integration

AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TOPIC_OF = {
    "PaymentCallback": Topic.PAYMENTS,
    "WireReceived": Topic.PAYMENTS,
    "WireClaimed": Topic.PAYMENTS,
    "RefundRequested": Topic.BILLING,
    "LoanDisbursed": Topic.ORDERS,
    "OrderDelivered": Topic.ORDERS,
    "ServiceOrderCompleted": Topic.ORDERS,
    "ReconCompleted": Topic.RECON,
    "DiscrepancyResolved": Topic.RECON,
}


@pytest.fixture
async def own_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A database of this test alone, so fixed accounts start at zero."""
    return await migrated(await new_database())


@pytest.fixture
async def runtime(
    own_url: str, kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[LedgerRuntime]:
    settings = settings_for(
        own_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=topic_prefix,
        kafka_consumer_group_prefix=f"g{uuid.uuid4().hex[:8]}.",
        consumer_retry_delay_ms=1,
    )
    async with running(settings) as rt:
        yield rt


async def publish(runtime: LedgerRuntime, envelopes: list[EventEnvelope]) -> None:
    settings = runtime.settings
    producer = EventProducer(settings.kafka_bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_many(
            (
                topic_for(TOPIC_OF[e.event_type], settings.kafka_topic_prefix),
                e.partition_key.decode(),
                e.model_dump_json(),
            )
            for e in envelopes
        )
    finally:
        await producer.stop()


async def inbox_count(runtime: LedgerRuntime, consumer: str) -> int:
    async with runtime.sessions() as session:
        inbox = messaging.inbox
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(inbox).where(inbox.c.consumer == consumer)
        )
    return int(count or 0)


def consumed(runtime: LedgerRuntime, consumer: str, count: int) -> Callable[[], Awaitable[bool]]:
    """A probe: the consumer's inbox holds `count` events."""

    async def probe() -> bool:
        return await inbox_count(runtime, consumer) == count

    return probe


class RunningConsumer:
    """One consumer of the runtime, running until the context exits (joining a group on the
    embedded broker takes seconds, so a test starts as few as it can)."""

    def __init__(self, runtime: LedgerRuntime, spec: ConsumerSpec) -> None:
        self._consumer = runtime.build_consumer(spec)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RunningConsumer:
        self._task = asyncio.create_task(self._consumer.run(self._stop))
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


async def read_ledger_topic(runtime: LedgerRuntime, count: int) -> list[dict[str, object]]:
    """The first `count` events on the ledger topic (partitions assigned, no group join)."""
    settings = runtime.settings
    name = topic_for(Topic.LEDGER, settings.kafka_topic_prefix)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(name) or set()
        if not partitions:
            await reader.force_metadata_update()
            partitions = reader.partitions_for_topic(name) or set()
        reader.assign([TopicPartition(name, p) for p in partitions])
        await reader.seek_to_beginning()
        seen: list[dict[str, object]] = []

        async def enough() -> bool:
            batches = await reader.getmany(timeout_ms=200)
            seen.extend(json.loads(r.value) for part in batches.values() for r in part)
            return len(seen) >= count

        await eventually(enough, timeout_s=20)
        return seen
    finally:
        await reader.stop()


async def test_events_post_journals_publish_and_a_replay_changes_nothing(
    runtime: LedgerRuntime,
) -> None:
    order = unique("ORD")
    spec = runtime.consumers[0]
    envelopes = [new_envelope(p, producer="test", correlation_id="c") for p in scenario(order)]
    delivered = new_envelope(
        OrderDelivered(order_id=order, delivered_at=AT), producer="test", correlation_id="c"
    )

    async with RunningConsumer(runtime, spec):
        await publish(runtime, envelopes)
        await eventually(consumed(runtime, spec.name, len(envelopes)), timeout_s=30)
        # Delivery after the payments: it recognises the deposits held at that moment.
        await publish(runtime, [delivered])
        await eventually(consumed(runtime, spec.name, len(envelopes) + 1), timeout_s=30)

    queries = LedgerQueries(runtime.ledger, runtime.sessions)
    expected = {
        "clearing:wechatpay": 200,
        "fees:wechatpay": 3_000,
        "bank:MAIN": 497_000,
        "cash:S1": 1_950_000,
        "cash:UNASSIGNED": 10_000,
        "bank:ICBC-001": 1_300_000,
        "suspense": 0,
        "loan_receivable": 10_000_000,
        "clearing:alipay": 0,
        "refunds_payable": 0,
        "revenue": -13_760_000,
        "recon_differences": -200,
        f"deposits:{order}": 0,
    }
    for code, net_debit_fen in expected.items():
        found = await queries.account(code, None)
        assert found.balance.net_debit_fen == net_debit_fen, code
    statement = await queries.order_statement(order)
    assert statement.summary.paid_fen == 13_910_000
    assert statement.summary.refunded_fen == 150_000
    assert statement.summary.recognised_fen == 13_760_000
    assert statement.summary.held_fen == 0

    async with runtime.sessions() as session:
        kinds = [row[0] for row in await session.execute(sa.select(journals.c.source_kind))]
        refused = (await session.execute(sa.select(unposted_events))).mappings().all()
    # 17 events; the wire callback (posted by WireReceived), the failure and the malformed
    # order id post nothing.
    assert len(kinds) == 14
    assert kinds.count("PaymentCallback") == 6
    assert [r["code"] for r in refused] == ["invalid_event"]
    assert "order id" in refused[0]["reason"]
    assert (await integrity_of(runtime.settings.database_url.get_secret_value())).ok

    # Every journal's JournalPosted goes out through the outbox relay.
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay(runtime, stop))
    try:
        published = await read_ledger_topic(runtime, len(kinds))
    finally:
        stop.set()
        await relay
    assert {e["event_type"] for e in published} == {"JournalPosted"}
    # Keyed by the order for the ten journals on its deposits (partition order per order).
    assert sum(e["order_id"] == order for e in published) == 10
    sources = {p["source_id"]: p for e in published if isinstance(p := e["payload"], dict)}
    first = sources[str(envelopes[0].event_id)]
    assert (first["total_debit_fen"], first["business_date"]) == (500_000, "2024-05-01")
    assert first["order_id"] == order

    # Replay every topic from the start under another consumer (empty inbox, new group):
    # the source ids stop every journal from posting twice.
    before = await snapshot(runtime)
    replay = ConsumerSpec(f"{spec.name}-replay", spec.topics, spec.handlers, new_uow=spec.new_uow)
    async with RunningConsumer(runtime, replay):
        await eventually(consumed(runtime, replay.name, len(envelopes) + 1), timeout_s=30)
    assert await snapshot(runtime) == before


def alipay_settlement(version: int, gross_fen: int, fee_fen: int, run: str) -> ReconCompleted:
    """ReconCompleted of Alipay's 2024-05-01 statement as recon sends it."""
    return ReconCompleted(
        run_id=run, source="alipay", recon_date=date(2024, 5, 1), counts={},
        settled_fen=gross_fen - fee_fen, fee_fen=fee_fen, gross_fen=gross_fen,
        statement_id=f"st-{version}", statement_version=version,
    )  # fmt: skip


async def test_a_settlement_reconciled_three_times_is_booked_once_and_gross(
    runtime: LedgerRuntime,
) -> None:
    """Issue 11: one Alipay line of 5,000.00 with a 30.00 fee, reconciled three times, moves
    the books once (clearing −5,000.00, bank +4,970.00, fees +30.00); a corrected statement
    (a second line of 1,000.00 with 6.00 fee) posts only the difference; a late redelivery
    of the first version changes nothing."""
    spec = runtime.consumers[0]
    runs = [alipay_settlement(1, 500_000, 3_000, f"run-{n}") for n in range(3)]
    corrected = alipay_settlement(2, 600_000, 3_600, "run-4")
    late = alipay_settlement(1, 500_000, 3_000, "run-5")
    envelopes = [
        new_envelope(p, producer="recon-service", correlation_id="c")
        for p in (*runs, corrected, late)
    ]
    queries = LedgerQueries(runtime.ledger, runtime.sessions)

    async def balances() -> tuple[int, int, int]:
        found = [await queries.account(c, None) for c in ("clearing:alipay", "bank:MAIN")]
        fees = await queries.account("fees:alipay", None)
        return (*(a.balance.net_debit_fen for a in found), fees.balance.net_debit_fen)

    async with RunningConsumer(runtime, spec):
        await publish(runtime, envelopes[:3])
        await eventually(consumed(runtime, spec.name, 3), timeout_s=30)
        assert await balances() == (-500_000, 497_000, 3_000)
        await publish(runtime, envelopes[3:])
        await eventually(consumed(runtime, spec.name, 5), timeout_s=30)
    assert await balances() == (-600_000, 596_400, 3_600)
    async with runtime.sessions() as session:
        sources = sorted(
            row[0]
            for row in await session.execute(
                sa.select(journals.c.source_id).where(journals.c.source_kind == "ReconCompleted")
            )
        )
    assert sources == ["settlement:alipay:2024-05-01:v1", "settlement:alipay:2024-05-01:v2"]
    assert (await integrity_of(runtime.settings.database_url.get_secret_value())).ok


async def test_service_orders_become_revenue_per_kind_and_a_cancelled_one_is_refunded(
    runtime: LedgerRuntime,
) -> None:
    film, maintenance, legacy = unique("SVC"), unique("SVC"), unique("SVC")
    parent = unique("ORD")
    money: list[EventPayload] = [
        payment(film, "wechatpay", 300_000),
        # Cancelled before completion: billing asks for the refund, the channel refunds it.
        payment(maintenance, "alipay", 80_000),
        RefundRequested(
            order_id=maintenance, billing_id="b", refund_request_id="rq-m", amount_fen=80_000,
            reason="service order cancelled", channel="alipay",
        ),
        payment(maintenance, "alipay", 80_000, outcome="refunded", refund_id="rf-m"),
        payment(legacy, "wechatpay", 1_000),
    ]  # fmt: skip
    completions: list[EventPayload] = [
        ServiceOrderCompleted(order_id=film, parent_order_id=parent, service_kind="window_film"),
        # Written before the event carried its kind: still revenue, on a visible account.
        ServiceOrderCompleted(order_id=legacy, parent_order_id=parent),
    ]
    spec = runtime.consumers[0]

    async with RunningConsumer(runtime, spec):
        # Completion is gated on payment, so it comes after the money (another topic).
        await publish(runtime, [new_envelope(p, producer="t", correlation_id="c") for p in money])
        await eventually(consumed(runtime, spec.name, len(money)), timeout_s=30)
        done = [new_envelope(p, producer="t", correlation_id="c") for p in completions]
        await publish(runtime, done)
        await eventually(consumed(runtime, spec.name, len(money) + len(done)), timeout_s=30)

    queries = LedgerQueries(runtime.ledger, runtime.sessions)
    expected = {
        f"deposits:{film}": 0,
        "service_revenue:window_film": -300_000,
        f"deposits:{maintenance}": 0,
        "clearing:alipay": 0,
        f"deposits:{legacy}": 0,
        "service_revenue:service": -1_000,
    }
    for code, net_debit_fen in expected.items():
        found = await queries.account(code, None)
        assert found.balance.net_debit_fen == net_debit_fen, code
    film_statement = await queries.order_statement(film)
    assert (film_statement.summary.paid_fen, film_statement.summary.recognised_fen) == (
        300_000,
        300_000,
    )
    cancelled = await queries.order_statement(maintenance)
    assert (cancelled.summary.refunded_fen, cancelled.summary.recognised_fen) == (80_000, 0)
    trial = await queries.trial_balance(AT.date(), "CNY")
    assert trial.total_debit_fen == trial.total_credit_fen
    assert (await integrity_of(runtime.settings.database_url.get_secret_value())).ok


async def accounts_of(runtime: LedgerRuntime, source_id: str) -> list[str]:
    """The accounts the journal of one event touches, sorted."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT l.account FROM ledger.journals j JOIN ledger.journal_lines l "
                "USING (journal_id) WHERE j.source_id = :id ORDER BY l.account"
            ),
            {"id": source_id},
        )
        return [row[0] for row in rows]


def paid_by_hand(
    order: str, channel: str, fen: int, via: str, **extra: object
) -> list[EventPayload]:
    """Billing asks the refund back (RefundRequested), the queue pays it out ``via``."""
    owed = RefundRequested(
        order_id=order,
        billing_id="b",
        refund_request_id=f"rq-{order}",
        amount_fen=fen,
        reason="overpaid",
        channel=channel,
    )
    paid = payment(
        order, channel, fen, outcome="refunded", refund_id=f"rf-{order}", payout_via=via, **extra
    )
    return [owed, paid]  # fmt: skip


def payouts_by_hand(pos: str, till: str, no_till: str, wire: str) -> list[EventPayload]:
    """Issue 10: refunds paid out through the offline refunds queue (``payout_via``)."""
    return [
        # A POS swipe whose refund the acquirer refused: finance pays it by bank transfer.
        payment(pos, "unionpay", 100_000),
        *paid_by_hand(pos, "unionpay", 30_000, "bank_transfer"),
        # A cash receipt paid back at the store's till.
        payment(till, "cash", 50_000, store_id="S1"),
        *paid_by_hand(till, "cash", 20_000, "till", store_id="S1"),
        # A cash receipt whose store the queue did not know: paid back by bank transfer.
        payment(no_till, "cash", 10_000, store_id="S2"),
        *paid_by_hand(no_till, "cash", 10_000, "bank_transfer"),
        # A wire refunded by bank transfer.
        WireReceived(
            wire_id="w-payout", bank_account="ICBC-001", payer_account_last4="1234",
            amount_fen=40_000, matched_order_id=wire, received_at=AT,
        ),
        *paid_by_hand(wire, "wire", 15_000, "bank_transfer"),
        # UnionPay settles the swipe (gross 1,000.00, fee 5.00): clearing ends at zero.
        ReconCompleted(
            run_id="run-up", source="unionpay", recon_date=date(2024, 5, 1), counts={},
            settled_fen=99_500, fee_fen=500, gross_fen=100_000,
        ),
    ]  # fmt: skip


async def test_refunds_paid_out_by_hand_leave_the_bank_or_the_till_never_clearing(
    runtime: LedgerRuntime,
) -> None:
    """A refused POS refund paid by bank transfer leaves the bank, so after UnionPay settles
    the swipe its clearing account is at zero; a till payout touches no bank, a wire refund
    by transfer no clearing account; a redelivery posts nothing twice."""
    pos, till, no_till, wire = (unique("ORD") for _ in range(4))
    spec = runtime.consumers[0]
    envelopes = [
        new_envelope(p, producer="t", correlation_id="c")
        for p in payouts_by_hand(pos, till, no_till, wire)
    ]
    refunds = [e for e in envelopes if getattr(e.payload, "outcome", None) == "refunded"]
    replay = ConsumerSpec(f"{spec.name}-again", spec.topics, spec.handlers, new_uow=spec.new_uow)
    async with RunningConsumer(runtime, spec):
        await publish(runtime, envelopes)
        await eventually(consumed(runtime, spec.name, len(envelopes)), timeout_s=30)
    before = await snapshot(runtime)
    async with RunningConsumer(runtime, replay):  # every event again, under an empty inbox
        await eventually(consumed(runtime, replay.name, len(envelopes)), timeout_s=30)
    assert await snapshot(runtime) == before

    queries = LedgerQueries(runtime.ledger, runtime.sessions)
    expected = {
        "clearing:unionpay": 0,
        "fees:unionpay": 500,
        # + the settlement 99,500 − the POS, no-till and wire payouts (30,000 + 10,000 + 15,000)
        "bank:MAIN": 44_500,
        "bank:ICBC-001": 40_000,
        "cash:S1": 30_000,
        "cash:S2": 10_000,
        "refunds_payable": 0,
        f"deposits:{pos}": -70_000,
        f"deposits:{till}": -30_000,
        f"deposits:{no_till}": 0,
        f"deposits:{wire}": -25_000,
    }
    for code, net_debit_fen in expected.items():
        found = await queries.account(code, None)
        assert found.balance.net_debit_fen == net_debit_fen, code
    assert [await accounts_of(runtime, str(e.event_id)) for e in refunds] == [
        ["bank:MAIN", f"deposits:{pos}"],
        ["cash:S1", "refunds_payable"],
        ["bank:MAIN", "refunds_payable"],
        ["bank:MAIN", "refunds_payable"],
    ]
    trial = await queries.trial_balance(AT.date(), "CNY")
    assert trial.total_debit_fen == trial.total_credit_fen
    assert (await integrity_of(runtime.settings.database_url.get_secret_value())).ok
