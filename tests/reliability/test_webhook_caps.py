"""The MLflow webhook holds no more of a body than its cap, signed or not.

An unsigned chunked 400 MiB upload took the daemon from 99 MB to 892 MB before its 401,
and a signed body nested 100,000 deep answered 500.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from mdsd.base.jsondepth import MAX_JSON_DEPTH
from mdsd.connectors.mlflow.webhook import MAX_BODY_BYTES, PATH, WebhookReceiver, bind
from tests.mlflow.test_mlflow_webhook import NOW, SECRET, delivery, mlflow_signature

CHUNK = b"x" * 2**16
UPLOAD = 400 * 2**20


class Submitted:
    def __init__(self) -> None:
        self.events: list[bytes] = []

    async def submit(self, raw: bytes, origin: str) -> None:
        self.events.append(raw)


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[int, Submitted]]:
    submitted = Submitted()
    receiver = WebhookReceiver(SECRET, 300, submitted.submit, clock=lambda: NOW)  # type: ignore[arg-type]
    sock = bind("127.0.0.1", 0)
    serving = asyncio.create_task(receiver.serve(sock))
    await asyncio.sleep(0.2)
    yield sock.getsockname()[1], submitted
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


async def upload(port: int, head: bytes, chunked: bool) -> tuple[bytes, int]:
    """Send ``head`` then up to ``UPLOAD`` bytes of body until the server answers or
    hangs up; (its answer, body bytes sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    answer = asyncio.ensure_future(reader.read(4096))
    sent = 0
    try:
        while sent < UPLOAD and not answer.done():
            writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
            await writer.drain()
            sent += len(CHUNK)
    except ConnectionError:
        pass
    got = await asyncio.wait_for(answer, 10)
    writer.close()
    return got, sent


async def test_an_unsigned_chunked_upload_is_refused_without_being_held(
    webhook: tuple[int, Submitted],
) -> None:
    port, submitted = webhook
    head = f"POST {PATH} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".encode()
    tracemalloc.start()
    try:
        answer, sent = await upload(port, head, chunked=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"over the limit of 1,048,576" in answer
    assert sent < 64 * 2**20, f"the upload went on for {sent:,} bytes"
    assert peak < 8 * 2**20, f"{peak:,} bytes held for a body capped at {MAX_BODY_BYTES:,}"
    assert submitted.events == []


async def test_a_declared_oversize_body_is_refused_before_it_is_read(
    webhook: tuple[int, Submitted],
) -> None:
    port, _ = webhook
    head = f"POST {PATH} HTTP/1.1\r\nhost: x\r\ncontent-length: {UPLOAD}\r\n\r\n".encode()
    answer, sent = await upload(port, head, chunked=False)
    assert answer.startswith(b"HTTP/1.1 413")
    assert f"request body is {UPLOAD:,} bytes".encode() in answer
    assert sent < 64 * 2**20, "answered only once much of the body was in"


async def test_a_signed_body_nested_100k_deep_is_a_400_naming_the_limit(
    webhook: tuple[int, Submitted],
) -> None:
    port, submitted = webhook
    headers, _ = delivery()
    body = '{"entity": "model_version", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    headers["X-MLflow-Signature"] = mlflow_signature(
        SECRET, "d-1", headers["X-MLflow-Timestamp"], body
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"POST {PATH} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n{head}\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request.encode() + body.encode())
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400")
    reason = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert f"limit of {MAX_JSON_DEPTH} levels" in reason
    assert submitted.events == []
