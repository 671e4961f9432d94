"""Fixtures of the API tests (see ``api_org``).

Loading a world takes a couple of seconds, so the organisations are session-scoped and
live on the session's event loop (every test module here runs on it):

- ``org``: loaded once and never changed; tests must not mutate its world.
- ``living_org``: tests may change its world (``await living_org.change()``); each one
  compares views it pinned itself, so the order they run in does not matter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from api_org import Org, running_org
from api_world import Truth

from mds.client import Client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def org(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Org]:
    async with running_org(tmp_path_factory.mktemp("org")) as o:
        yield o


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def living_org(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Org]:
    async with running_org(tmp_path_factory.mktemp("living")) as o:
        yield o


@pytest.fixture(scope="session")
def truth(org: Org) -> Truth:
    return org.truth


@pytest.fixture
def client(org: Org) -> Client:
    return org.client
