"""SQS intake with aiobotocore: long polling, deletion only after durable intake.

Messages are deleted once ``Intake.submit`` has returned for them; a crash before that
leaves them in the queue to reappear after their visibility timeout. While a batch is
being persisted its visibility is extended, so a slow write never lets another consumer
take the same messages. Bodies may be raw events or SNS notifications (unwrapped here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from mdsd.intake.buses.envelope import unwrap
from mdsd.intake.buses.pump import Message
from mdsd.intake.buses.settings import SqsConfig

log = logging.getLogger(__name__)

#: while paused, how often to look at the intake queue again
IDLE_SECONDS = 0.2
#: invalid messages remembered (by message id) so their redeliveries are not re-recorded
REMEMBERED_INVALID = 10_000
STATUS_TIMEOUT_SECONDS = 2.0


def _entries(batch: Sequence[Message], **extra: Any) -> list[dict[str, Any]]:
    """Batch-call entries (ids are positions) for the messages of ``batch``."""
    return [
        {"Id": str(i), "ReceiptHandle": m.handle["ReceiptHandle"], **extra}
        for i, m in enumerate(batch)
    ]


class SqsAdapter:
    kind = "sqs"

    def __init__(self, config: SqsConfig) -> None:
        self.config = config
        self.origin = "sqs:" + config.queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.client: Any = None
        self.deleted = 0
        self.left_to_redrive = 0
        self.visibility_extensions = 0
        self._stack = contextlib.AsyncExitStack()
        self._to_delete: list[Message] = []
        self._invalid: OrderedDict[str, None] = OrderedDict()

    async def connect(self) -> None:
        client_config = AioConfig(
            retries={"mode": "standard"},
            # a long poll must not look like a dead connection
            read_timeout=self.config.wait_seconds + 30,
        )
        stack = contextlib.AsyncExitStack()
        try:
            self.client = await stack.enter_async_context(
                get_session().create_client(
                    "sqs",
                    region_name=self.config.region or None,
                    endpoint_url=self.config.endpoint_url or None,
                    config=client_config,
                )
            )
            # Fails fast on a wrong URL, missing credentials or permissions.
            await self.client.get_queue_attributes(
                QueueUrl=self.config.queue_url, AttributeNames=["QueueArn"]
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        if self.client is not None and self._to_delete:
            await self.acknowledge()
        await self._stack.aclose()
        self.client = None

    async def fetch(self) -> list[Message]:
        response = await self.client.receive_message(
            QueueUrl=self.config.queue_url,
            MaxNumberOfMessages=self.config.max_messages,
            WaitTimeSeconds=self.config.wait_seconds,
            VisibilityTimeout=self.config.visibility_timeout,
        )
        batch = []
        for message in response.get("Messages", []):
            if message["MessageId"] in self._invalid:
                continue  # seen invalid and left to the queue's redrive policy
            batch.append(Message(unwrap(message["Body"].encode()), self.origin, message))
        return batch

    @contextlib.asynccontextmanager
    async def holding(self, batch: Sequence[Message]) -> AsyncIterator[None]:
        extending = asyncio.create_task(self._keep_invisible(batch))
        try:
            yield
        finally:
            extending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extending

    async def _keep_invisible(self, batch: Sequence[Message]) -> None:
        """Push the batch's visibility out again every half timeout until it is settled."""
        timeout = self.config.visibility_timeout
        while True:  # cancelled once the batch is persisted
            await asyncio.sleep(timeout / 2)
            try:
                await self.client.change_message_visibility_batch(
                    QueueUrl=self.config.queue_url,
                    Entries=_entries(batch, VisibilityTimeout=timeout),
                )
                self.visibility_extensions += 1
            except Exception as exc:  # the batch may be redelivered: a duplicate, not a loss
                log.warning("sqs: could not extend visibility: %s", exc)

    def persisted(self, batch: Sequence[Message], rejected: set[int]) -> None:
        """Queue for deletion what intake has (dead letters included), unless invalid
        messages are left to the queue's redrive policy."""
        for position, message in enumerate(batch):
            if self.config.leave_invalid_to_redrive and position in rejected:
                self._remember_invalid(message.handle["MessageId"])
                self.left_to_redrive += 1
            else:
                self._to_delete.append(message)

    async def acknowledge(self) -> None:
        """Delete the persisted messages, ten per call (the SQS limit)."""
        while self._to_delete:
            chunk = self._to_delete[:10]
            response = await self.client.delete_message_batch(
                QueueUrl=self.config.queue_url, Entries=_entries(chunk)
            )
            del self._to_delete[:10]  # failed ones have stale handles: they come again
            failed = response.get("Failed", [])
            self.deleted += len(chunk) - len(failed)
            if failed:
                log.warning("sqs: %d message(s) not deleted, they will come again", len(failed))

    def _remember_invalid(self, message_id: str) -> None:
        self._invalid[message_id] = None
        while len(self._invalid) > REMEMBERED_INVALID:
            self._invalid.popitem(last=False)

    def pause(self) -> None:
        """Not receiving is all a pause takes: messages wait in the queue."""

    def resume(self) -> None:
        pass

    async def idle(self) -> None:
        await asyncio.sleep(IDLE_SECONDS)

    async def status(self) -> dict[str, Any]:
        waiting = in_flight = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                response = await asyncio.wait_for(
                    self.client.get_queue_attributes(
                        QueueUrl=self.config.queue_url,
                        AttributeNames=[
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                        ],
                    ),
                    STATUS_TIMEOUT_SECONDS,
                )
                attributes = response["Attributes"]
                waiting = int(attributes["ApproximateNumberOfMessages"])
                in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"])
        return {
            "queue_url": self.config.queue_url,
            "lag": waiting,
            "in_flight": in_flight,
            "deleted": self.deleted,
            "left_to_redrive": self.left_to_redrive,
            "visibility_extensions": self.visibility_extensions,
        }
