"""Fake time and fake sources for connector tests: no real sleeps, no sockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

BASE = "http://source.test"


class FakeTime:
    """A clock that only moves when the code under test sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSource:
    """Canned answers by path (``default`` for any other, else 404); records every request.
    An answer is a JSON body, an ``httpx.Response``, or a callable (sync or async) taking
    the request and returning a response (to fail, stall or count)."""

    def __init__(self, routes: dict[str, Any] | None = None, default: Any = None) -> None:
        self.routes: dict[str, Any] = dict(routes or {})
        self.default = httpx.Response(404) if default is None else default
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> Any:
        self.requests.append(request)
        answer = self.routes.get(request.url.path, self.default)
        if callable(answer):
            return answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def responses(*answers: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A route answering with each of ``answers`` in turn (exceptions are raised)."""
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return answer
