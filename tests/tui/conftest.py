"""Fixtures for the TUI tests: the fake daemon, a client on it, and an app factory."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fake_daemon import FakeDaemon

from mds.client import Client
from tui.app import MdsApp

sys.path.append(str(Path(__file__).resolve().parent.parent / "api"))  # answer_shapes


@pytest.fixture
def fake() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
async def client(fake: FakeDaemon) -> AsyncIterator[Client]:
    async with Client(app=fake.app) as c:
        yield c


@pytest.fixture
def make_app(client: Client, tmp_path: Path) -> Callable[..., MdsApp]:
    def make(**kwargs: Any) -> MdsApp:
        kwargs.setdefault("status_interval", 0.2)
        kwargs.setdefault("bookmarks", tmp_path / "bookmarks.json")  # never the user's
        kwargs.setdefault("live", False)  # the live tests turn it on
        return MdsApp(client=client, **kwargs)

    return make
