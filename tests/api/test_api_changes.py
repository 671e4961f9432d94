"""The change stream (``GET /v1/changes``, server-sent events) over a real Unix socket:
``httpx.ASGITransport`` buffers whole responses, so it cannot follow an endless stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import pytest
from api_org import Org, serving

from mdsd.client import Client

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_follower_sees_a_tx_event_after_an_ingest(living_org: Org, tmp_path: Path) -> None:
    async with (
        serving(living_org.daemon, tmp_path / "run" / "mdsd.sock") as socket,
        Client(socket) as follower,
    ):
        stream = cast(AsyncGenerator[dict[str, Any], None], follower.changes())
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.2)  # subscribed before the change is written
        before = (await follower.status())["last_tx"]
        change = await living_org.change(updated="models", created="pipeline-runs")
        notice = await asyncio.wait_for(first, timeout=10)
        await stream.aclose()

    assert before < notice["tx"] <= change.after_tx
    assert notice["at"].endswith("Z")
    assert notice["entities"] and all(e.startswith("aip://") for e in notice["entities"])
