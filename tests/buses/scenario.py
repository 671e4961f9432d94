"""What the Kafka and SQS end-to-end tests share: the malformed messages (thin and
OpenLineage), waiting, and killing a daemon while a stream is half consumed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from mds.testing import DaemonProcess
from tests.openlineage.events import run_event

_AT = "2025-05-01T08:00:00Z"
#: malformed OpenLineage events, told from thin ones by their shape -> the field their
#: dead letter's reason names
MALFORMED_LINEAGE = {
    json.dumps(run_event("START", _AT, run="not-a-uuid")): "run.runId",
    json.dumps(run_event("EXPLODED", _AT)): "eventType",
    json.dumps({**run_event("START", _AT), "eventTime": "yesterday"}): "eventTime",
}
MALFORMED = [
    b"this is not json",
    b'{"event_type": "model_exploded", "model_id": "m"}',
    b'{"event_type": "model_created"}',
    b'[{"event_type": "model_created", "model_id": 42}]',
    *(raw.encode() for raw in MALFORMED_LINEAGE),
]
#: what the dead letters keep of them (an array's events are kept one by one)
DEAD_RAWS = {m.decode() for m in MALFORMED if not m.startswith(b"[")} | {
    '{"event_type": "model_created", "model_id": 42}'
}


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def kill_mid_stream(daemon: DaemonProcess, bus: str, timeout: float = 60.0) -> None:
    """SIGKILL ``daemon`` once its ``bus`` has taken messages and work is still queued: no
    last commit or delete, no clean leave."""
    deadline = time.monotonic() + timeout
    while True:
        status = daemon.call("status")
        if status["buses"][bus]["messages"] > 0 and status["pending"] > 0:
            break
        assert time.monotonic() < deadline, "never caught mid-stream:\n" + daemon.log()[-3000:]
        time.sleep(0.01)
    daemon.kill()


def until_published(daemon: DaemonProcess, last_tx: int, timeout: float = 60.0) -> None:
    """Wait until ``daemon``'s ``[replication]`` has published ``last_tx``."""
    deadline = time.monotonic() + timeout
    while daemon.call("status")["replication"]["published_tx"] < last_tx:
        assert time.monotonic() < deadline, daemon.call("status")["replication"]
        time.sleep(0.2)
