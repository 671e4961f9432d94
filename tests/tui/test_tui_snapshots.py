"""The looks of every page, at 80x24 and 160x45: SVG snapshots (pytest-textual-snapshot,
as posting and harlequin keep theirs) beside the Pilot tests of what the pages do.

Each page is shown on the fake daemon, whose graph is fixed, at a pinned clock (ages
read "23d ago" whatever the day), once it has loaded all it shows. A changed look fails
here with the differing screens side by side in the report; after a change meant to
look different, ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` records it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fake_daemon import DAILY, PLAYBACK, RANKING, TEST, V5, FakeDaemon
from textual.pilot import Pilot

from mds.client import Client
from tui.app import VIEWS, MdsApp
from tui.nav import Location
from tui.screens.base import PageScreen

#: the moment the pages are looked at
PINNED = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
#: every view, on an entity whose page has something to show
PAGES: dict[str, Location] = {
    "search": Location("search"),
    "entity": Location("entity", V5),
    "field": Location("field", DAILY, {"field": "revenue"}),
    "lineage": Location("lineage", V5),
    "graph": Location("graph", V5),
    "diff": Location("diff", RANKING, {"since": "2024-12-02"}),
    "impact": Location("impact", PLAYBACK),
    "usage": Location("usage", TEST),
    "history": Location("history", RANKING),
    "path": Location("path", V5, {"to": PLAYBACK}),
    "quality": Location("quality"),
    "status": Location("status"),
    "bookmarks": Location("bookmarks"),
}
SIZES = [(80, 24), (160, 45)]


def test_every_view_has_a_snapshot() -> None:
    assert set(PAGES) == set(VIEWS)


async def loaded(pilot: Pilot[Any]) -> None:
    """Until the page and its sections have loaded (the status line is left out of it: the
    app runs without its status poll here, so the line stays the same)."""
    app = pilot.app
    assert isinstance(app, MdsApp)
    for _ in range(250):
        page = app.screen
        ready = (
            isinstance(page, PageScreen)
            and page.shown
            and all(w.is_finished for w in app.workers if w.node is page)
        )
        if ready:
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError(f"{app.screen} did not finish loading")
    # what the last answer scheduled (key bar, sections) is drawn once the screen holds
    # still: a fixed pause was too short on a loaded machine
    drawn = None
    for _ in range(40):
        await pilot.pause(0.1)
        shown = app.export_screenshot()
        if shown == drawn:
            return
        drawn = shown
    raise AssertionError(f"{app.screen} never held still")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", sorted(PAGES))
def test_the_looks_of_each_page(
    view: str,
    size: tuple[int, int],
    snap_compare: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("tui.format.clock", lambda: PINNED)
    app = MdsApp(
        client_factory=lambda: Client(app=FakeDaemon().app),
        start=PAGES[view],
        live=False,
        bookmarks=tmp_path / "bookmarks.json",
    )
    assert snap_compare(app, terminal_size=size, run_before=loaded)


def test_the_history_of_a_long_name_fits_80x24(
    snap_compare: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An OpenLineage dataset's name and its schema's JSON are longer than the screen is
    wide: the headline stays one line and every row ends in an ellipsis, not at the edge."""
    monkeypatch.setattr("tui.format.clock", lambda: PINNED)
    app = MdsApp(
        client_factory=lambda: Client(app=FakeDaemon().app),
        start=Location("history", DAILY),
        live=False,
        bookmarks=tmp_path / "bookmarks.json",
    )
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)
