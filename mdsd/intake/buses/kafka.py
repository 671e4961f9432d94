"""Kafka intake with aiokafka: a consumer group member that commits only durable offsets.

Auto-commit is off. After a batch is persisted, the next offset of each of its partitions
is committed; when a rebalance takes partitions away, the listener first waits for the
batch in flight, commits what is durable and only then lets the group move on, so the new
owner starts where this member's durable work ended. A crash between persisting and
committing re-reads a few records: duplicates, which hydration absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.helpers import create_ssl_context

from mdsd.intake.buses.offsets import OffsetBook, lag
from mdsd.intake.buses.pump import Message
from mdsd.intake.buses.settings import KafkaConfig, KafkaConnection

log = logging.getLogger(__name__)

POLL_MS = 1000
#: bound on the network look-ups ``mds status`` makes for lag
STATUS_TIMEOUT_SECONDS = 2.0


def consumer_options(config: KafkaConfig) -> dict[str, Any]:
    """aiokafka consumer arguments for ``config``; security settings only where they apply."""
    return {
        **connection_options(config),
        "group_id": config.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": config.auto_offset_reset,
        "max_poll_records": config.max_batch,
    }


def connection_options(config: KafkaConnection) -> dict[str, Any]:
    """aiokafka arguments to reach and log in to ``config``'s cluster, any client's."""
    options: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in config.bootstrap_servers.split(",") if s.strip()],
        "client_id": "mdsd",
        "security_protocol": config.security_protocol,
    }
    if config.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = config.sasl_mechanism
        options["sasl_plain_username"] = os.path.expandvars(config.sasl_username)
        options["sasl_plain_password"] = os.path.expandvars(config.sasl_password)
    if config.security_protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(cafile=config.ssl_cafile or None)
    return options


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, adapter: KafkaAdapter) -> None:
        self.adapter = adapter

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.adapter.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.adapter.assigned(set(assigned))


class KafkaAdapter:
    kind = "kafka"

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self.book: OffsetBook[TopicPartition] = OffsetBook()
        self.consumer: AIOKafkaConsumer | None = None
        self.commits = 0
        self.commit_failures = 0
        self.rebalances = 0
        self._paused = False
        #: records a poll returned while paused, handed out by the next fetch
        self._stash: list[Message] = []
        #: held while a batch is persisted; a revocation waits for it
        self._batch_lock = asyncio.Lock()

    async def connect(self) -> None:
        consumer = AIOKafkaConsumer(**consumer_options(self.config))
        consumer.subscribe(self.config.topics, listener=_Rebalance(self))
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self.consumer = consumer

    async def close(self) -> None:
        if self.consumer is None:
            return
        await self._commit(self.book.uncommitted())
        await self.consumer.stop()
        self.consumer = None

    # -- the group -------------------------------------------------------------------------

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Before the group reassigns: wait for the batch being persisted, commit what is
        durable, then let the partitions go."""
        if partitions:
            self.rebalances += 1
        async with self._batch_lock:
            offsets = self.book.uncommitted(only=partitions)
            self.book.revoke(partitions)
        await self._commit(offsets)
        log.info("kafka: revoked %s", sorted(map(str, partitions)))

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self.book.assign(partitions)
        if self._paused and self.consumer is not None:
            self.consumer.pause(*partitions)
        log.info("kafka: assigned %s", sorted(map(str, partitions)))

    # -- the loop's side ---------------------------------------------------------------------

    async def fetch(self) -> list[Message]:
        if self._stash:
            stashed, self._stash = self._stash, []
            return stashed
        return await self._poll(POLL_MS)

    async def _poll(self, timeout_ms: int) -> list[Message]:
        assert self.consumer is not None
        records = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=self.config.max_batch
        )
        return [
            Message(record.value or b"", f"kafka:{record.topic}", record)
            for partition_records in records.values()
            for record in partition_records
        ]

    @contextlib.asynccontextmanager
    async def holding(self, batch: Sequence[Message]) -> AsyncIterator[None]:
        async with self._batch_lock:
            yield

    def persisted(self, batch: Sequence[Message], rejected: set[int]) -> None:
        """The batch is durable (dead letters included): its records may be committed."""
        for message in batch:
            record = message.handle
            self.book.mark_durable(
                TopicPartition(record.topic, record.partition), record.offset + 1
            )

    async def acknowledge(self) -> None:
        await self._commit(self.book.uncommitted())

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Kept in the book: committed with the next batch, or by the partition's next
            # owner re-reading a few durable records.
            self.commit_failures += 1
            log.warning("kafka: commit of %d partition(s) failed: %s", len(offsets), exc)
            return
        self.book.mark_committed(offsets)
        self.commits += 1

    def pause(self) -> None:
        self._paused = True
        if self.consumer is not None:
            self.consumer.pause(*self.consumer.assignment())

    def resume(self) -> None:
        self._paused = False
        if self.consumer is not None:
            self.consumer.resume(*self.consumer.assignment())

    async def idle(self) -> None:
        """Poll the paused partitions: returns nothing, but keeps this member in the group
        (a consumer that stops polling for ``max_poll_interval_ms`` is expelled)."""
        assert self.consumer is not None
        self.consumer.pause(*self.consumer.assignment())
        # Paused partitions return nothing; should a record come anyway, it is kept.
        self._stash += await self._poll(POLL_MS // 5)

    # -- status ------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        consumer = self.consumer
        partitions: list[dict[str, Any]] = []
        if consumer is not None:
            assigned = sorted(consumer.assignment())
            ends: dict[TopicPartition, int] = {}
            with contextlib.suppress(KafkaError, TimeoutError):
                ends = await asyncio.wait_for(
                    consumer.end_offsets(assigned), STATUS_TIMEOUT_SECONDS
                )
            positions = await asyncio.gather(*(self._position(tp) for tp in assigned))
            for tp, position in zip(assigned, positions, strict=True):
                # The fetch high-water mark is fresher than a listed end offset while
                # fetching; the listed one is the only one while paused.
                known = [x for x in (ends.get(tp), consumer.highwater(tp)) if x is not None]
                end = max(known) if known else None
                committed = self.book.committed.get(tp)
                partitions.append(
                    {
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": committed,
                        "position": position,
                        "end": end,
                        "lag": lag(end, committed, position),
                    }
                )
        lags = [p["lag"] for p in partitions]
        return {
            "group_id": self.config.group_id,
            "topics": list(self.config.topics),
            "partitions": partitions,
            "lag": sum(lags) if lags and None not in lags else None,
            "commits": self.commits,
            "commit_failures": self.commit_failures,
            "rebalances": self.rebalances,
        }

    async def _position(self, partition: TopicPartition) -> int | None:
        assert self.consumer is not None
        try:
            return int(
                await asyncio.wait_for(self.consumer.position(partition), STATUS_TIMEOUT_SECONDS)
            )
        except (TimeoutError, KafkaError):
            return None
