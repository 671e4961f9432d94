"""Fixtures for the TUI tests: the fake daemon, a client on it, and an app factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_daemon import FakeDaemon
from textual.pilot import Pilot

from mdsd.client import Client
from tui.app import MdsApp


@pytest.fixture
def fake() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
async def client(fake: FakeDaemon) -> AsyncIterator[Client]:
    async with Client(app=fake.app) as c:
        yield c


@pytest.fixture
def make_app(client: Client) -> Callable[..., MdsApp]:
    def make(**kwargs: Any) -> MdsApp:
        kwargs.setdefault("status_interval", 0.2)
        kwargs.setdefault("live", False)  # the live tests turn it on
        return MdsApp(client=client, **kwargs)

    return make


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds (workers answer asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)
