"""Noticing, on the consumer side, that the broker lost data, so the consumer re-reads.

The producers' broker-loss watch (``otd_shared.broker_loss``) republishes from the outbox
what a broker lost, but the rebuilt topic holds the events at NEW offsets: events
published after the loss come first, the republished ones above them. A consumer that
goes on from the position it had (its in-memory fetch position, or an offset it commits
to the new broker: a group the broker does not know yet accepts a commit from anyone, and
the group then resumes from it) skips what landed below that position. So the consumer
watches for the signs of a lost log and then seeks to the beginning of the affected
topics; its inbox makes the re-reading harmless.

``LossGuard`` holds what one consumer saw and judges (pure, unit-tested):

- a partition's high-water mark (from the fetch responses) went below the highest one
  seen: the log was truncated or the topic recreated;
- the offset the broker holds for the group went below (or is gone from) the one this
  consumer committed there itself: the broker lost the group's offsets. It is checked
  before every commit, so a commit never lands on a broker that lost them;
- after a rejoin, the group generation did not grow (a broker that kept the group always
  increments it) or the cluster id changed: the coordinator lost the group;
- a subscribed topic's partition count, in the consumer's metadata, changed (it went
  missing, or came back with another count): the topic was deleted and created again,
  its log is new. Once it is back with the cluster's count it is read from the beginning.
  While a topic is missing or has another count the consumer refreshes its metadata every
  round instead of every 5 minutes (aiokafka's default), so it sees the topic come back
  (the producer's broker-loss watch recreates it; nobody auto-creates it).

An offset out of range (a fetch above the log end) is the client's own reset to the
earliest offset (``auto_offset_reset="earliest"``); the bundled broker answers such a
fetch with nothing and a low high-water mark, which the first sign catches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.protocol.metadata import MetadataRequest


@dataclass
class LossGuard:
    """What one consumer saw of the broker (see the module)."""

    highwater: dict[TopicPartition, int] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    generation: int | None = None
    cluster_id: str | None = None
    partition_counts: dict[str, int] = field(default_factory=dict)
    recreated: set[str] = field(default_factory=set)
    """Topics seen to change partition count, to read again once they are back."""

    def highwater_losses(
        self, current: Mapping[TopicPartition, int | None]
    ) -> dict[TopicPartition, str]:
        """Partitions whose high-water mark went backwards; remembers the highest seen."""
        losses: dict[TopicPartition, str] = {}
        for tp, hw in current.items():
            if hw is None:
                continue
            seen = self.highwater.get(tp)
            if seen is not None and hw < seen:
                losses[tp] = f"high-water mark went from {seen} to {hw}"
            else:
                self.highwater[tp] = max(hw, seen or 0)
        return losses

    def commit_losses(
        self, on_broker: Mapping[TopicPartition, int | None]
    ) -> dict[TopicPartition, str]:
        """Partitions where the broker holds less than this consumer committed there."""
        losses: dict[TopicPartition, str] = {}
        for tp, offset in on_broker.items():
            ours = self.committed.get(tp)
            if ours is None:
                continue
            if offset is None:
                losses[tp] = f"the committed offset {ours} is gone"
            elif offset < ours:
                losses[tp] = f"the committed offset went back from {ours} to {offset}"
        return losses

    def committed_ok(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Remember offsets the broker acknowledged."""
        self.committed.update(offsets)

    def group_loss(self, *, generation: int | None, cluster_id: str | None) -> str | None:
        """After a (re)join: why the coordinator lost the group, if it did."""
        reason = None
        if self.cluster_id is not None and cluster_id is not None and cluster_id != self.cluster_id:
            reason = f"cluster id changed from {self.cluster_id} to {cluster_id}"
        elif (
            self.generation is not None and generation is not None and generation <= self.generation
        ):
            reason = f"group generation went from {self.generation} to {generation}"
        self.generation = generation if generation is not None else self.generation
        self.cluster_id = cluster_id if cluster_id is not None else self.cluster_id
        return reason

    def topic_changes(self, counts: Mapping[str, int], expected: int) -> set[str]:
        """Take the partition counts in the metadata now (0: missing); returns the topics
        that changed count since and are now back with ``expected`` partitions."""
        for topic, count in counts.items():
            seen = self.partition_counts.get(topic)
            if seen is not None and seen != count:
                self.recreated.add(topic)
            self.partition_counts[topic] = count
        back = {t for t in self.recreated if counts.get(t) == expected}
        self.recreated -= back
        return back

    def forget(self, topics: Iterable[str]) -> None:
        """Drop what was seen of topics being re-read (the rebuilt log is the new baseline)."""
        gone = set(topics)
        for seen in (self.highwater, self.committed):
            for tp in [tp for tp in seen if tp.topic in gone]:
                del seen[tp]

    def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Another member owns these now: what it commits there is its own business."""
        for tp in partitions:
            self.committed.pop(tp, None)


def group_generation(kafka: Any) -> int | None:
    """The generation of the group this aiokafka consumer joined last (None if unknown).

    aiokafka keeps it on its coordinator only; a negative value means not joined."""
    coordinator = getattr(kafka, "_coordinator", None)
    generation = getattr(coordinator, "generation", None)
    return generation if isinstance(generation, int) and generation >= 0 else None


async def cluster_id(kafka: Any) -> str | None:
    """The cluster id the broker reports now (a metadata request for no topic)."""
    client = kafka._client  # noqa: SLF001  (aiokafka does not keep the cluster id)
    node = client.get_random_node()
    if node is None:
        return None
    response = await client.send(node, MetadataRequest([], allow_auto_topic_creation=False))
    value = getattr(response, "cluster_id", None)
    return str(value) if value else None
