"""A client the daemon refused stops asking: every failed attempt counts toward locking
its address out (other users' tokens with it), and a refused token cannot become good."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mds.client import AccessDenied, Client


class Refusing:
    """An ASGI app answering every request with ``status`` (and ``Retry-After``), counting."""

    def __init__(self, status: int, retry_after: str = "1") -> None:
        self.status = status
        self.retry_after = retry_after
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.requests += 1
        code = {401: "unauthorized", 403: "forbidden", 429: "too_many_requests"}[self.status]
        body = b'{"error": {"code": "%s", "message": "no"}}' % code.encode()
        headers = [(b"content-type", b"application/json")]
        if self.status == 429:
            headers.append((b"retry-after", self.retry_after.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def refused(client: Client) -> int:
    with pytest.raises(AccessDenied) as denied:
        await client.status()
    return denied.value.status


async def test_a_refused_token_is_not_sent_again() -> None:
    app = Refusing(401)
    async with Client(app=app) as client:
        assert [await refused(client) for _ in range(5)] == [401] * 5
    assert app.requests == 1


async def test_a_scope_too_low_does_not_stop_other_requests() -> None:
    app = Refusing(403)
    async with Client(app=app) as client:
        assert [await refused(client) for _ in range(3)] == [403] * 3
    assert app.requests == 3


async def test_a_locked_out_address_waits_out_its_retry_after() -> None:
    app = Refusing(429, retry_after="1")
    async with Client(app=app) as client:
        assert [await refused(client) for _ in range(3)] == [429] * 3
        assert app.requests == 1
        await asyncio.sleep(1.1)
        assert await refused(client) == 429
    assert app.requests == 2
