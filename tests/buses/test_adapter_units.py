"""The adapters' own rules with fake broker clients: what Kafka commits and when, what SQS
deletes, leaves or keeps invisible, and how the ``[intake.*]`` tables are checked."""

from __future__ import annotations

import asyncio
import json
import re
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from mdsd.config import ConfigError, parse_config
from mdsd.intake.buses.kafka import KafkaAdapter, consumer_options
from mdsd.intake.buses.pump import Message
from mdsd.intake.buses.settings import IntakeConfig, KafkaConfig, SqsConfig
from mdsd.intake.buses.sqs import SqsAdapter
from mdsd.replication.settings import ReplicaConfig, ReplicationConfig

Record = namedtuple("Record", "topic partition offset value")
P0, P1 = TopicPartition("events", 0), TopicPartition("events", 1)


class FakeConsumer:
    def __init__(self, fail_commits: int = 0) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail_commits = fail_commits
        self.paused: set[TopicPartition] = set()
        self.assigned = {P0, P1}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused -= set(partitions)


def kafka_adapter(consumer: FakeConsumer) -> KafkaAdapter:
    adapter = KafkaAdapter(KafkaConfig())
    adapter.consumer = consumer  # type: ignore[assignment]
    adapter.assigned({P0, P1})
    return adapter


def records(partition: int, *offsets: int) -> list[Message]:
    return [Message(b"{}", "kafka:events", Record("events", partition, o, b"{}")) for o in offsets]


async def test_kafka_commits_the_next_offset_of_each_partition_once_durable() -> None:
    consumer = FakeConsumer()
    adapter = kafka_adapter(consumer)
    adapter.persisted(records(0, 5, 6, 7) + records(1, 0), rejected={1})
    await adapter.acknowledge()
    assert consumer.commits == [{P0: 8, P1: 1}]  # dead-lettered records are durable too
    await adapter.acknowledge()
    assert len(consumer.commits) == 1, "nothing new, nothing committed"


async def test_a_failed_kafka_commit_is_retried_with_the_next_batch() -> None:
    consumer = FakeConsumer(fail_commits=1)
    adapter = kafka_adapter(consumer)
    adapter.persisted(records(0, 1), rejected=set())
    await adapter.acknowledge()
    assert consumer.commits == [] and adapter.commit_failures == 1
    adapter.persisted(records(1, 4), rejected=set())
    await adapter.acknowledge()
    assert consumer.commits == [{P0: 2, P1: 5}]


async def test_revocation_waits_for_the_batch_in_flight_then_commits_it() -> None:
    consumer = FakeConsumer()
    adapter = kafka_adapter(consumer)
    batch = records(0, 9)
    async with adapter.holding(batch):
        revoking = asyncio.create_task(adapter.revoked({P0}))
        await asyncio.sleep(0.01)
        assert not revoking.done(), "the group waits while the batch is being persisted"
        adapter.persisted(batch, rejected=set())
    await revoking
    assert consumer.commits == [{P0: 10}]
    assert adapter.book.assigned == {P1}
    adapter.persisted(records(0, 10), rejected=set())  # late records of a lost partition
    await adapter.acknowledge()
    assert consumer.commits == [{P0: 10}], "never commit for a partition another member owns"


async def test_a_partition_assigned_during_a_pause_starts_paused() -> None:
    consumer = FakeConsumer()
    adapter = kafka_adapter(consumer)
    adapter.pause()
    assert consumer.paused == {P0, P1}
    p2 = TopicPartition("events", 2)
    adapter.assigned({p2})
    assert p2 in consumer.paused
    adapter.resume()
    assert consumer.paused == {p2} - consumer.assigned


def test_kafka_security_options_apply_only_where_the_protocol_uses_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = consumer_options(KafkaConfig(bootstrap_servers="a:1, b:2"))
    assert plain["bootstrap_servers"] == ["a:1", "b:2"]
    assert plain["enable_auto_commit"] is False
    assert "sasl_mechanism" not in plain and "ssl_context" not in plain
    monkeypatch.setenv("KAFKA_PASSWORD", "s3cret")
    sasl = consumer_options(
        KafkaConfig(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="mds",
            sasl_password="${KAFKA_PASSWORD}",
        )
    )
    assert sasl["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (sasl["sasl_plain_username"], sasl["sasl_plain_password"]) == ("mds", "s3cret")
    assert sasl["ssl_context"] is not None


# -- SQS -----------------------------------------------------------------------------------------


class FakeSqs:
    def __init__(self, messages: list[dict[str, Any]] | None = None) -> None:
        self.messages = messages or []
        self.deleted: list[str] = []
        self.extended: list[list[str]] = []

    async def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        out, self.messages = self.messages[: kwargs["MaxNumberOfMessages"]], []
        return {"Messages": out} if out else {}

    async def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict:
        assert len(Entries) <= 10
        self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    async def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        self.extended.append([e["ReceiptHandle"] for e in Entries])
        return {}


def sqs_message(n: int, body: str) -> dict[str, Any]:
    return {"MessageId": f"id-{n}", "ReceiptHandle": f"rh-{n}", "Body": body}


def sqs_adapter(client: FakeSqs, **options: Any) -> SqsAdapter:
    adapter = SqsAdapter(SqsConfig(queue_url="https://sqs.example/123/events", **options))
    adapter.client = client
    return adapter


async def test_sqs_deletes_persisted_messages_invalid_ones_included() -> None:
    client = FakeSqs([sqs_message(n, "{}") for n in range(3)])
    adapter = sqs_adapter(client)
    batch = await adapter.fetch()
    assert [m.origin for m in batch] == ["sqs:events"] * 3
    adapter.persisted(batch, rejected={1})
    await adapter.acknowledge()
    assert client.deleted == ["rh-0", "rh-1", "rh-2"]


async def test_sqs_unwraps_sns_notifications() -> None:
    event = json.dumps({"event_type": "team_updated", "team_id": "t"})
    body = json.dumps({"Type": "Notification", "TopicArn": "arn:t", "Message": event})
    adapter = sqs_adapter(FakeSqs([sqs_message(0, body)]))
    assert [m.body for m in await adapter.fetch()] == [event.encode()]


async def test_invalid_messages_can_be_left_to_the_queues_redrive_policy() -> None:
    client = FakeSqs([sqs_message(n, "{}") for n in range(3)])
    adapter = sqs_adapter(client, leave_invalid_to_redrive=True)
    batch = await adapter.fetch()
    adapter.persisted(batch, rejected={1})
    await adapter.acknowledge()
    assert client.deleted == ["rh-0", "rh-2"]
    client.messages = [sqs_message(1, "{}"), sqs_message(3, "{}")]  # id-1 comes again
    assert [m.handle["MessageId"] for m in await adapter.fetch()] == ["id-3"]
    assert (await adapter.status())["left_to_redrive"] == 1


async def test_sqs_keeps_a_slow_batch_invisible_until_it_is_persisted() -> None:
    client = FakeSqs([sqs_message(n, "{}") for n in range(2)])
    adapter = sqs_adapter(client, visibility_timeout=1)
    batch = await adapter.fetch()
    async with adapter.holding(batch):
        await asyncio.sleep(1.2)  # two half-timeouts
    extensions = len(client.extended)
    await asyncio.sleep(0.6)
    assert extensions == 2 and client.extended[0] == ["rh-0", "rh-1"]
    assert len(client.extended) == extensions, "no extension once the batch is persisted"


async def test_more_than_ten_persisted_messages_are_deleted_ten_at_a_time() -> None:
    client = FakeSqs()
    adapter = sqs_adapter(client)
    batch = [Message(b"{}", "sqs:events", sqs_message(n, "{}")) for n in range(23)]
    adapter.persisted(batch, rejected=set())
    await adapter.acknowledge()
    assert len(client.deleted) == 23 and adapter.deleted == 23


# -- the [intake] tables ------------------------------------------------------------------------------


def test_intake_tables_load_with_their_defaults() -> None:
    config = parse_config(
        '[intake]\nmax_pending = 500\n[intake.kafka]\ntopics = ["a", "b"]\n'
        '[intake.sqs]\nqueue_url = "https://sqs.eu-west-1.amazonaws.com/1/q"\n'
    )
    assert config.intake.max_pending == 500
    assert config.intake.kafka is not None and config.intake.kafka.group_id == "mds"
    assert config.intake.sqs is not None and config.intake.sqs.wait_seconds == 20
    assert parse_config("").intake.kafka is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[intake.kafka]\ntopics = "a"\n', "'intake.kafka.topics' must be a list"),
        ("[intake.kafka]\ntopics = [1]\n", "'intake.kafka.topics' must be a list"),
        ('[intake.kafka]\ngroup = "x"\n', "unknown key 'intake.kafka.group'"),
        ('[intake.kafka]\nsecurity_protocol = "TLS"\n', "security_protocol must be one of"),
        ("[intake.kafka]\ntopics = []\n", "topics must list at least one"),
        ("[intake.sqs]\n", "queue_url"),
        ('[intake.sqs]\nqueue_url = "https://q"\nmax_messages = 50\n', "max_messages"),
        ('[intake.sqs]\nqueue_url = "https://q"\nwait_seconds = "long"\n', "wait_seconds"),
        ("[intake]\nsqs = 1\n", "'intake.sqs' must be a table"),
        ("[intake]\nmax_pending = 0\n", "max_pending"),
    ],
)
def test_intake_mistakes_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "mds.toml")
    assert message in str(caught.value) and "mds.toml" in str(caught.value)


@pytest.mark.parametrize(
    ("table", "module", "extra"), [("kafka", "aiokafka", "kafka"), ("sqs", "aiobotocore", "sqs")]
)
def test_a_bus_without_its_extra_is_a_clear_startup_error(
    monkeypatch: pytest.MonkeyPatch, table: str, module: str, extra: str
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(
            f'[intake.{table}]\nqueue_url = "https://q"\n'
            if table == "sqs"
            else f"[intake.{table}]\n"
        )
    assert f"install mds[{extra}]" in str(caught.value)


def test_the_example_configs_commented_bus_and_replication_tables_show_the_defaults() -> None:
    text = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
    replica = text.index("\n# [replica]\n")
    section = text[text.index("[intake]") : replica]
    uncommented = re.sub(r"^# (\[intake|\[replication|[a-z_]+ = )", r"\1", section, flags=re.M)
    config = parse_config(uncommented)
    replica_table = re.sub(r"^# (\[replica|[a-z_]+ = )", r"\1", text[replica:], flags=re.M)
    assert parse_config(replica_table).replica == ReplicaConfig()
    intake = config.intake
    assert intake.max_pending == IntakeConfig().max_pending
    assert intake.kafka == KafkaConfig()
    assert intake.sqs is not None and intake.sqs == SqsConfig(queue_url=intake.sqs.queue_url)
    assert config.replication == ReplicationConfig()
