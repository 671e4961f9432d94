"""The real wire: SourceClient's default transport against raw servers on loopback.

Every other connector test injects ``httpx.MockTransport``; these make sure the transport
the daemon actually uses answers, and that each way a real server can misbehave reaches
SourceClient as a transient failure it retries, never as a foreign exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from mdsd.connectors.base import SourceUnavailable
from mdsd.connectors.http import SourceClient, SourcePolicy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server running ``handler`` per connection; yields (base url, connection log)."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


def client(base_url: str, **policy: object) -> SourceClient:
    return SourceClient(
        "raw",
        SourcePolicy(base_url=base_url, backoff_base_seconds=0.01, **policy),  # type: ignore[arg-type]
    )


async def test_json_over_the_default_transport_with_keep_alive() -> None:
    body = b'{"id": "a"}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            await read_request(reader)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()

    async with raw_server(answer) as (base, connections):
        source = client(base, concurrency=1)
        try:
            for path in ("/a", "/b", "/c"):
                assert await source.get_json(path) == {"id": "a"}
        finally:
            await source.aclose()
    assert len(connections) == 1  # one pooled connection served all three


def replying(raw: bytes) -> Handler:
    """A handler that reads one request and writes ``raw`` back, whatever it is."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()

    return reply


garbage = replying(b"this is not HTTP\r\n\r\n")
truncated = replying(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"id"')


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(5)


@pytest.mark.parametrize(
    "handler",
    [garbage, hang_up, truncated, silent],
    ids=["garbage", "hang_up", "truncated", "silent"],
)
async def test_a_misbehaving_server_is_retried_then_unavailable(handler: Handler) -> None:
    async with raw_server(handler) as (base, connections):
        source = client(base, max_retries=2, timeout_seconds=0.3)
        try:
            with pytest.raises(SourceUnavailable, match="after 3 attempts"):
                await source.get_json("/x")
        finally:
            await source.aclose()
        stats = source.stats()
    assert (stats["requests"], stats["retries"], stats["errors"]) == (3, 2, 3)
    assert len(connections) >= 1


async def test_a_refused_connection_is_retried_then_unavailable() -> None:
    async with raw_server(hang_up) as (base, _):
        pass  # closed: nothing listens on that port any more
    source = client(base, max_retries=1)
    try:
        with pytest.raises(SourceUnavailable, match="after 2 attempts"):
            await source.get_json("/x")
    finally:
        await source.aclose()
