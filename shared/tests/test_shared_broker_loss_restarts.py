"""The broker-loss watch across broker restarts that race its check (real PostgreSQL, the
real bundled broker restarted on its port, the real relay).

The mechanism matching the chaos run's loss (seed 4134059225, load 12-20: 9 of 16
acknowledged orders never reached billing, across two broker restarts; that CI run kept
no service logs to confirm it): the watch's check reads what the outbox published, THEN
reads the broker, and it judged a topic missing "while nothing was published to it" a
fresh broker's topic, simply created. Right after a repair every
row of the window is unsent, so a check that started then read 0; meanwhile the relay
republished the rows (to the broker about to restart, or to the restarted one: the bundled
broker acknowledges records for a topic it does not have, and drops them), the broker
restarted and the check found the topic missing, created it and, having forgotten what it
saw before the repair, never looked back: the new events landed on the new topic, which
was then neither missing nor empty. Now the watch remembers the broker's cluster id across
repairs (a new one is a loss), a missing topic is only created under the relay's lock with
the outbox counted again there, and a cluster id it cannot read stops the check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import otd_shared.broker_loss
from otd_shared.broker_loss import BrokerProbe, BrokerSnapshot, judge
from otd_shared.events import Topic
from otd_shared.infra import wait_until
from otd_shared.kafka import EventProducer, ensure_topics
from otd_shared.testing.outbox_rig import ORDERS, OutboxRig, outbox_rig

pytestmark = pytest.mark.integration

WAIT_S = 30.0
Snapshot = Callable[[str, list[str]], Awaitable[BrokerSnapshot]]


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[OutboxRig]:
    async with outbox_rig(database_url) as made:
        yield made


@pytest.fixture
async def producer(rig: OutboxRig) -> AsyncIterator[EventProducer]:
    """One producer throughout, as the relay's: its metadata outlives the restarts."""
    await ensure_topics(rig.bootstrap, rig.topic.removesuffix(Topic.ORDERS.value))
    made = EventProducer(rig.bootstrap, enable_idempotence=False)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


def _race_next_snapshot(
    monkeypatch: pytest.MonkeyPatch, rig: OutboxRig, producer: EventProducer, *, restart: bool
) -> None:
    """Make the watch's next check meet a relay batch (and a broker restart) between its
    read of the outbox and its read of the broker, as under load."""
    real: Snapshot = otd_shared.broker_loss.read_snapshot

    async def racing(bootstrap: str, topics: list[str]) -> BrokerSnapshot:
        monkeypatch.setattr(otd_shared.broker_loss, "read_snapshot", real)
        assert await rig.relay(producer).publish_batch() == len(ORDERS)
        if restart:
            rig.restart_broker()
        return await real(bootstrap, topics)

    monkeypatch.setattr(otd_shared.broker_loss, "read_snapshot", racing)


async def _everything_readable(rig: OutboxRig, expected: set[object]) -> bool:
    async def all_there() -> bool:
        return await rig.on_broker() == expected

    return await wait_until(all_there, timeout_s=WAIT_S)


@pytest.mark.parametrize("watch_restarted", [False, True], ids=["one-watch", "new-watch"])
async def test_a_restart_while_the_watch_checks_right_after_a_repair_loses_nothing(
    rig: OutboxRig,
    producer: EventProducer,
    monkeypatch: pytest.MonkeyPatch,
    watch_restarted: bool,
) -> None:
    """new-watch: the service restarted too right after its watch's repair, so its new
    watch remembers no cluster id (only the recount under the relay's lock saves it)."""
    watch = rig.detector()
    first = await rig.emit()
    assert await rig.relay(producer).publish_batch() == len(ORDERS)
    assert await watch.check() == 0

    rig.restart_broker()
    assert await watch.check() == len(ORDERS), "the first restart is noticed"
    assert await rig.unsent() == len(ORDERS), "the window's rows wait for the relay"

    # The next check reads the outbox (0 rows published), the relay republishes them, the
    # broker restarts again, then the check reads the (new, empty) broker.
    _race_next_snapshot(monkeypatch, rig, producer, restart=True)
    watch = rig.detector() if watch_restarted else watch
    assert await watch.check() == len(ORDERS), "the second restart is a loss too"
    assert await rig.unsent() == len(ORDERS)
    second = await rig.emit()
    assert await rig.relay(producer).publish_batch() == 2 * len(ORDERS)
    assert await watch.check() == 0
    assert await _everything_readable(rig, first | second)


async def test_a_cluster_id_the_watch_cannot_read_decides_nothing(
    rig: OutboxRig, producer: EventProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = rig.detector()
    await rig.emit()
    assert await rig.relay(producer).publish_batch() == len(ORDERS)
    assert await watch.check() == 0

    async def unreadable(*_: object) -> BrokerSnapshot:
        raise TimeoutError("the broker did not answer in time")

    monkeypatch.setattr(BrokerProbe, "_snapshot", staticmethod(unreadable))
    with pytest.raises(TimeoutError):
        await watch.check()
    monkeypatch.undo()
    assert await rig.unsent() == 0, "nothing marked"
    rig.restart_broker()
    assert await watch.check() == len(ORDERS)


def test_judge_remembers_the_cluster_across_a_repair() -> None:
    """After a repair the baseline is the cluster the repair acted on, with no offsets:
    another cluster id next time is a loss, even with nothing published since."""
    baseline = BrokerSnapshot("c2", {})
    assert "cluster id changed" in judge(baseline, BrokerSnapshot("c3", {}), {"t": 0}).reasons["t"]
    same = BrokerSnapshot("c2", {"t": {0: 1, 1: 0}})
    assert judge(baseline, same, {"t": 1}, expected_partitions=2).reasons == {}
    unknown = BrokerSnapshot(None, {"t": {0: 1, 1: 0}})
    assert judge(baseline, unknown, {"t": 1}, expected_partitions=2).reasons == {}, (
        "a broker that reports no cluster id"
    )
