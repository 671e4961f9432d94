"""The live connection: refresh on change, daemon down, reconnect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fake_daemon import RANKING, FakeDaemon
from test_tui_navigation import open_entity
from textual.widgets import Static
from tui_support import wait_for

from mds.client import Client, DaemonUnavailable
from tui.app import MdsApp
from tui.screens.search import SearchScreen


class FlakyClient(Client):
    """A client whose every call fails with DaemonUnavailable while ``down`` is set."""

    def __init__(self, app: Any) -> None:
        super().__init__(app=app)
        self.down = True

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self.down:
            raise DaemonUnavailable("mdsd is not reachable at /nowhere/mdsd.sock (refused)")
        return await super().request(method, path, **kwargs)

    async def changes(self, on_open: Any = None) -> Any:
        if self.down:
            raise DaemonUnavailable("change stream closed")
        async for change in super().changes(on_open=on_open):
            yield change


async def test_the_page_refreshes_when_its_entity_changes(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    app = make_app(live=True, status_interval=60)  # so only the change stream can tell
    async with app.run_test(size=(100, 40)) as pilot:
        page = await open_entity(pilot, app, RANKING)
        fake.graph.update("2025-02-01T00:00:00Z", RANKING, description="Changed while you watched.")
        await wait_for(
            pilot,
            lambda: (
                page.entity is not None
                and page.entity["description"] == "Changed while you watched."
            ),
        )
        assert app.status_info.last_tx == 4 and app.status_info.stream == "on"


async def test_daemon_down_is_a_message_then_reconnects(fake: FakeDaemon) -> None:
    client = FlakyClient(fake.app)
    app = MdsApp(client=client, status_interval=0.2)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press(*"rank")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        message = screen.query_one("#message", Static)
        await wait_for(
            pilot, lambda: message.display and "Daemon unavailable" in str(message.render())
        )
        await wait_for(pilot, lambda: app.status_info.state == "down")
        assert "daemon unavailable" in str(screen.query_one("#status-line", Static).render())
        client.down = False
        await wait_for(pilot, lambda: app.status_info.state == "up", timeout=15)
        await wait_for(pilot, lambda: screen.results, what="reload after reconnect")
        assert not message.display
    await client.aclose()


class DiskFullClient(Client):
    """A daemon whose disk is full: its status says writing is paused."""

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        return {**status, "storage": {"state": "paused", "kind": "no_space"}}


async def test_a_daemon_paused_by_a_full_disk_says_so_in_the_status_line(
    fake: FakeDaemon,
) -> None:
    client = DiskFullClient(app=fake.app)
    app = MdsApp(client=client, status_interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.status_info.storage == "disk full")
        line = str(app.screen.query_one("#status-line", Static).render())
        assert "disk full: paused" in line
    await client.aclose()
