"""mds-tui says which daemon it is on: the context's name, or the server's URL."""

from __future__ import annotations

import pytest
from fake_daemon import FakeDaemon
from tui_support import wait_for

from mds.client import Client
from mds.target import Target
from tui.app import MdsApp
from tui.widgets.chrome import StatusLine


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        (Target(server="https://mds.example.com:8443", context="team"), "[team] ● connected"),
        (Target(server="https://mds.example.com:8443"), "[https://mds.example.com:8443] ●"),
        (Target(), "● connected"),
    ],
)
async def test_the_status_line_names_the_target(
    fake: FakeDaemon, target: Target, shown: str
) -> None:
    async with Client(app=fake.app, target=target) as client:
        app = MdsApp(client=client, live=True, status_interval=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            status = lambda: str(app.screen.query_one(StatusLine).render())  # noqa: E731
            await wait_for(pilot, lambda: "connected" in status())
            assert status().startswith(shown)
