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

from mdsd.connectors.base import InvalidPayload, SourceUnavailable
from mdsd.connectors.http import MAX_BODY_BYTES, SourceClient
from mdsd.connectors.policy import SourcePolicy

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


def answering(path_bodies: dict[bytes, bytes]) -> Handler:
    """A keep-alive handler answering each request line's path with a 200 and its body."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            body = path_bodies[head.split(b" ", 2)[1]]
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    return answer


async def test_a_trickling_answer_times_out_as_a_whole_and_frees_its_connection() -> None:
    """timeout_seconds bounded each read only: a source sending a byte now and then held
    the request, its slot and the unit for as long as it liked."""

    async def by_path(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while b" /slow " not in await reader.readuntil(b"\r\n\r\n"):
            writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{"id": "ok"}')
            await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        while True:  # a byte every 0.1 s: each read is quick, the answer never whole
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.1)

    async with raw_server(by_path) as (base, _):
        source = client(base, max_retries=1, timeout_seconds=0.5, concurrency=1)
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(SourceUnavailable, match="no whole answer within"):
                await source.get_json("/slow")
            assert asyncio.get_running_loop().time() - started < 3
            # the one connection the pool allows was released: the next read gets it
            assert await source.get_json("/ok") == {"id": "ok"}
        finally:
            await source.aclose()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"n": ' + b"1" * 5000 + b"}", "body is not JSON"),
        (b"x" * (MAX_BODY_BYTES + 1), "body larger than"),
    ],
    ids=["deep", "huge-integer", "too-large"],
)
async def test_a_body_that_cannot_be_held_is_an_invalid_payload(body: bytes, reason: str) -> None:
    """Deep nesting escaped as RecursionError (a dead letter saying "failed unexpectedly"),
    and an endless body was read into memory until the worker died, again at each retry."""
    async with raw_server(answering({b"/x": body})) as (base, _):
        source = client(base, max_retries=0)
        try:
            with pytest.raises(InvalidPayload, match=reason):
                await source.get_json("/x")
        finally:
            await source.aclose()
