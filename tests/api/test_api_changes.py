"""The change stream (``GET /v1/changes``, server-sent events) over a real Unix socket:
``httpx.ASGITransport`` buffers whole responses, so it cannot follow an endless stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import pytest
from api_org import Org, serving
from starlette.applications import Starlette

from mds.client import ApiError, Client

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


async def test_the_stream_says_it_is_open_before_any_change(
    living_org: Org, tmp_path: Path
) -> None:
    """An idle daemon sends only keep-alives: the follower learns the stream is open."""
    opened = asyncio.Event()
    async with (
        serving(living_org.daemon, tmp_path / "run" / "mdsd.sock") as socket,
        Client(socket) as follower,
    ):
        stream = cast(AsyncGenerator[dict[str, Any], None], follower.changes(on_open=opened.set))
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.wait_for(opened.wait(), timeout=10)
        assert not waiting.done(), "open, and no change has come"
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting


async def test_a_refused_stream_raises_instead_of_ending_quietly(tmp_path: Path) -> None:
    async with Client(app=Starlette()) as client:  # serves no /v1/changes: 404
        with pytest.raises(ApiError) as refused:
            async for _ in client.changes(on_open=lambda: pytest.fail("not open")):
                pass
    assert refused.value.status == 404
