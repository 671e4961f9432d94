"""End to end: the explorer on a real ``mdsd demo`` (started the way ``--demo`` starts it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_tui_navigation import open_entity
from tui_support import wait_for

from mds.client import ApiError, Client
from tui.app import MdsApp
from tui.demo import DemoDaemon
from tui.screens.history import HistoryScreen
from tui.screens.lineage import LineageScreen
from tui.screens.search import SearchScreen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    socket = tmp_path_factory.mktemp("demo") / "d.sock"
    daemon = DemoDaemon(socket, timeout=120, extra_args=("--size", "300", "--rate", "0"))
    assert daemon.ensure()
    try:
        yield socket
    finally:
        daemon.stop()


async def settled(client: Client, timeout: float = 120.0) -> None:
    """Wait until the daemon has started and has nothing pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if (await client.wait_idle(timeout=max(1.0, deadline - loop.time())))["idle"]:
                return
        except ApiError as exc:
            if exc.status != 503:
                raise
        if loop.time() > deadline:
            raise AssertionError("mdsd demo did not settle")
        await asyncio.sleep(0.5)


async def test_search_open_lineage_and_time_travel_on_the_real_daemon(demo_socket: Path) -> None:
    async with Client(demo_socket) as client:
        await settled(client)
        app = MdsApp(client=client, status_interval=0.5)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, SearchScreen)
            await pilot.press(*"type:model")
            await wait_for(pilot, lambda: screen.shown_query == "type:model" and screen.results)
            model = str(screen.results[0]["id"])
            await pilot.press("enter")
            page = await open_entity(pilot, app, model)
            assert page.entity is not None and page.entity["entity_type"] == "Model"
            await wait_for(pilot, lambda: app.status_info.state == "up")
            instance = next(
                r.target for r in page.table.rows_shown if r.group.endswith("instance_of")
            )
            assert instance is not None
            await open_entity(pilot, app, instance)
            await pilot.press("l")
            await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, LineageScreen) and app.screen.lineage_tree.root.children
                ),
            )
            await pilot.press("left_square_bracket", "h")
            await wait_for(
                pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table.row_count
            )
            history = app.screen
            assert isinstance(history, HistoryScreen)
            oldest = max(
                i
                for i, row in enumerate(history.table.rows_shown)
                if row.data == min(r.data for r in history.table.rows_shown)
            )
            history.table.move_cursor(row=oldest)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.as_of is not None and "AS OF tx" in app.as_of_label)
            assert app.screen.failure is None or app.screen.failure.kind == "missing"
