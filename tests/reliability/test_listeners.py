"""Every listener closes connections that stall, and refuses other users quietly.

3,000 connections that sent half their headers held 3,033 fds for good; 3,000 refused
connections from another user wrote 3 MB of tracebacks in 1.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mdsd.base import listeners
from mdsd.base.listeners import RefusalLog, bind_unix_socket, build_server
from mdsd.connectors.mlflow.webhook import PATH, WebhookReceiver, bind
from tests.reliability.conftest import STRANGER, as_root

HALF_HEADERS = b"POST /echo HTTP/1.1\r\nhost: mds\r\ncontent-le"
STALLS = 200


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "HEADER_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(listeners, "BODY_IDLE_SECONDS", 0.5)


@contextlib.asynccontextmanager
async def serving(path: Path) -> AsyncIterator[Path]:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    server = build_server(app)
    task = asyncio.create_task(server.serve(sockets=[bind_unix_socket(path)]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield path
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def served(tmp_path: Path, short_timeouts: None) -> AsyncIterator[Path]:
    async with serving(tmp_path / "run" / "mdsd.sock") as path:
        yield path


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def connect(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(str(path))


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except (TimeoutError, ConnectionError):
        return False


async def test_half_sent_headers_and_silent_connections_are_closed(served: Path) -> None:
    before = open_fds()
    connections = [await connect(served) for _ in range(STALLS)]
    for i, (_, writer) in enumerate(connections):
        if i % 2:  # half of them say nothing at all
            writer.write(HALF_HEADERS)
    # each is ended by the server (the client never closes its end before)
    closed = await asyncio.gather(*(closed_by_server(r, 10) for r, _ in connections))
    assert all(closed)
    await asyncio.sleep(0.2)
    assert open_fds() <= before + STALLS + 5  # only the clients' ends are left
    for _, writer in connections:
        writer.close()
    await asyncio.sleep(0.2)
    assert open_fds() <= before + 5


async def test_a_body_that_stops_coming_is_closed_but_a_whole_one_is_served(served: Path) -> None:
    reader, writer = await connect(served)
    writer.write(b"POST /echo HTTP/1.1\r\nhost: mds\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
    assert await closed_by_server(reader, 5)
    reader, writer = await connect(served)
    writer.write(b"POST /echo HTTP/1.1\r\nhost: mds\r\ncontent-length: 3\r\n\r\nabc")
    answer = await asyncio.wait_for(reader.read(4096), 5)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"size":3}')
    writer.close()


async def test_a_slow_but_steady_body_is_not_cut(served: Path) -> None:
    reader, writer = await connect(served)
    writer.write(b"POST /echo HTTP/1.1\r\nhost: mds\r\ncontent-length: 6\r\n\r\n")
    for _ in range(6):  # 1.8 s in all, each pause under the 0.5 s limit
        await asyncio.sleep(0.3)
        writer.write(b"x")
    answer = await asyncio.wait_for(reader.read(4096), 5)
    assert answer.endswith(b'{"size":6}')
    writer.close()


async def test_the_webhook_listener_closes_half_sent_requests_too(short_timeouts: None) -> None:
    async def submit(raw: bytes, origin: str) -> None:
        raise AssertionError("nothing is delivered")

    receiver = WebhookReceiver("s3cret", 300, submit)  # type: ignore[arg-type]
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    serving = asyncio.create_task(receiver.serve(sock))
    try:
        await asyncio.sleep(0.2)
        stalled = []
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST {PATH} HTTP/1.1\r\nhost: x\r\n".encode())
            stalled.append(reader)
        assert all(await asyncio.gather(*(closed_by_server(r, 5) for r in stalled)))
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


def test_refusals_are_logged_once_per_uid_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    refusals = RefusalLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(3000):
            refusals.refused(1001)
        refusals.refused(1002)
        now[0] += 61
        refusals.refused(1001)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("refused a connection from uid 1001: only the daemon")
    assert lines[2].endswith("(and 2999 more since the last notice)")
    assert not any(r.exc_info for r in caplog.records)


STRANGER_CONNECTS = textwrap.dedent(
    """
    import os, socket, sys
    os.setgid({uid}); os.setuid({uid})
    for _ in range({count}):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        try:
            s.sendall(b"GET /echo HTTP/1.1\\r\\nhost: mds\\r\\n\\r\\n")
            assert s.recv(100) == b""  # closed unanswered
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed before the request was even in
        s.close()
    """
)


@as_root
async def test_another_users_connections_are_refused_without_a_trace(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listeners, "REFUSALS", RefusalLog())
    script = STRANGER_CONNECTS.format(uid=STRANGER, count=500)
    with tempfile.TemporaryDirectory() as where:
        os.chmod(where, 0o711)  # the stranger may reach the socket, to be refused
        async with serving(Path(where) / "run" / "mdsd.sock") as path:
            os.chmod(path.parent, 0o711)
            os.chmod(path, 0o777)
            with caplog.at_level(logging.DEBUG):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", script, str(path)
                )
                assert await asyncio.wait_for(process.wait(), 60) == 0
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and f"uid {STRANGER}" in refusals[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert sum(len(r.getMessage()) for r in caplog.records) < 2000
