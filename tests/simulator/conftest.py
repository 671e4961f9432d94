from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulator.server import create_app
from simulator.world import World


@pytest.fixture
def world() -> World:
    return World.generate(400, seed=7)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client
