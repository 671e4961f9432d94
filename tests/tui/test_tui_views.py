"""Lineage, impact, usage, path, quality and the per-type sections of entity pages."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from fake_daemon import (
    DAILY,
    PIPE,
    PLAYBACK,
    PLAYBACK_V2,
    RUN2,
    TENURE,
    TEST,
    V5,
    WATCH,
    FakeDaemon,
)
from test_tui_navigation import open_entity
from textual.pilot import Pilot
from textual.widgets import Static
from tui_support import wait_for

from tui.app import MdsApp
from tui.nav import Location
from tui.screens.history import HistoryScreen
from tui.screens.impact import ImpactScreen
from tui.screens.info import InfoScreen
from tui.screens.lineage import LineageScreen
from tui.screens.listing import ListScreen
from tui.screens.path import PathScreen
from tui.screens.quality import QualityScreen
from tui.screens.status import StatusScreen
from tui.screens.usage import UsageScreen
from tui.widgets.chrome import StatusLine

Page = TypeVar("Page", bound=ListScreen)


async def listed(pilot: Pilot[None], app: MdsApp, view: type[Page]) -> Page:
    """The page on screen once it is a ``view`` with rows."""
    await wait_for(pilot, lambda: isinstance(app.screen, view) and app.screen.table.row_count)
    page = app.screen
    assert isinstance(page, view)
    return page


def child_ids(node: object) -> set[str]:
    return {c.data["id"] for c in node.children if c.data}  # type: ignore[attr-defined]


async def test_lineage_tree_expands_lazily_and_toggles_direction(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    app = make_app(start=Location("lineage", V5))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, LineageScreen) and app.screen.lineage_tree.root.children,
        )
        page = app.screen
        assert isinstance(page, LineageScreen)
        root = page.lineage_tree.root
        assert child_ids(root) == {RUN2, WATCH, TENURE}
        assert not any(
            f"id={RUN2.replace(':', '%3A').replace('/', '%2F')}" in r for r in fake.graph.requests
        )
        run_node = next(c for c in root.children if c.data["id"] == RUN2)
        page.lineage_tree.move_cursor(run_node)
        await pilot.press("right")
        await wait_for(pilot, lambda: child_ids(run_node) == {PIPE, PLAYBACK_V2})
        assert "d2" in str(run_node.children[0].label)
        await pilot.press("tab")
        await wait_for(
            pilot,
            lambda: page.direction == "downstream" and TEST in child_ids(page.lineage_tree.root),
        )


async def test_impact_groups_by_type_with_owners_to_notify(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(start=Location("impact", PLAYBACK))
    async with app.run_test(size=(100, 40)) as pilot:
        page = await listed(pilot, app, ImpactScreen)
        groups = {row.group.split(" (")[0] for row in page.table.rows_shown}
        assert {"Dataset", "Feature", "ModelInstance", "notify owners"} <= groups
        summary = str(page.query_one("#summary", Static).render())
        assert "Alice Andersen" in summary and "Personalization" in summary


async def test_usage_of_an_instance_and_of_a_test(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(start=Location("usage", V5))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, UsageScreen) and app.screen.table.row_count
        )
        assert [r.target for r in app.screen.table.rows_shown] == [TEST]
        assert "is in 1 A/B test" in str(app.screen.query_one("#summary", Static).render())
        assert "1 A/B tests" not in str(app.screen.query_one("#summary", Static).render())
        app.go(Location("usage", TEST))
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, UsageScreen)
                and app.screen.entity_id == TEST
                and app.screen.table.row_count
            ),
        )
        assert V5 in {r.target for r in app.screen.table.rows_shown}


async def test_path_from_the_current_entity(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_entity(pilot, app, V5)
        app.run_command(f":path {PLAYBACK}")
        await wait_for(
            pilot, lambda: isinstance(app.screen, PathScreen) and app.screen.table.row_count
        )
        targets = [r.target for r in app.screen.table.rows_shown]
        assert targets[0] == V5 and targets[-1] == PLAYBACK


async def test_quality_report_is_browsable(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        app.run_command(":quality")
        await wait_for(
            pilot, lambda: isinstance(app.screen, QualityScreen) and app.screen.table.row_count
        )
        assert any(
            r.group.startswith("unresolved stubs") and "legacy-ctr" in str(r.cells[0])
            for r in app.screen.table.rows_shown
        )


def sections_text(app: MdsApp) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(".section").results(Static))


async def test_per_type_sections(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 50)) as pilot:
        expectations = {
            V5: [
                "Deployment",
                "production",
                "Produced by",
                "train-weekly-ranking-20250101",
                "Ranking v5 vs v4",
            ],
            PLAYBACK: ["1,500 rows (+500)", "Consumers"],
            PIPE: ["2 attempts", "train-weekly-ranking-20250101"],
            TEST: ["treatment", "ranking-model-v5-20250101", "ACTIVE"],
        }
        for entity_id, needles in expectations.items():
            await open_entity(pilot, app, entity_id)
            await wait_for(
                pilot,
                lambda needles=needles: all(n in sections_text(app) for n in needles),
                what=f"sections of {entity_id}",
            )


async def test_provenance_of_an_inferred_relationship(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        page = await open_entity(pilot, app, V5)
        assert isinstance(page, ListScreen)
        index = next(
            i for i, r in enumerate(page.table.rows_shown) if r.data and r.data.get("inferred")
        )
        page.table.move_cursor(row=index)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoScreen))
        text = str(app.screen.query_one(Static).render())
        assert "tested_in" in text and "train-weekly-ranking-20250101" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is page)


async def test_status_lists_sources_and_dead_letters_and_redrives_them(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    app = make_app(start=Location("status"))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.table.row_count
        )
        page = app.screen
        assert isinstance(page, StatusScreen)
        summary = str(page.query_one("#summary", Static).render())
        assert "2 dead letters waiting" in summary
        states = {
            str(r.cells[0]): str(r.cells[1]) for r in page.table.rows_shown if r.group == "sources"
        }
        assert states == {"experiments": "down: paused", "registry": "ok"}  # breakers in words
        reasons = [str(row.cells[2]) for row in page.table.rows_shown]
        assert any("registry answered 503" in r for r in reasons)
        first = next(i for i, row in enumerate(page.table.rows_shown) if row.data == 1)
        page.table.move_cursor(row=first)
        await pilot.press("enter")  # letter 1: its source is back
        await wait_for(pilot, lambda: fake.letters[0]["redriven_at"] is not None)
        await wait_for(
            pilot,
            lambda: "1 dead letter waiting" in str(page.query_one("#summary", Static).render()),
        )
        await pilot.press("R")  # the rest: letter 2 is refused again
        await wait_for(
            pilot, lambda: any("refused again" in str(n.message) for n in app._notifications)
        )
        assert fake.letters[1]["redriven_at"] is None


async def test_a_replica_shows_its_lag_where_a_primary_shows_its_queue(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    fake.replica = {
        "topic": "mds.transactions",
        "primary": "https://primary:8443",
        "applied_tx": 41,
        "last_applied_committed_at": None,
        "behind_messages": 3,
        "behind_seconds": 2.5,
        "last_error": None,
    }
    app = make_app(start=Location("status"), live=True)  # the status line polls
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        page = app.screen
        assert isinstance(page, StatusScreen)
        await wait_for(pilot, lambda: "applied tx 41" in str(page.query_one("#summary").render()))
        summary = str(page.query_one("#summary", Static).render())
        assert "replica, 2.5s behind" in summary and "https://primary:8443" in summary
        assert "dead letter" not in summary.split("read-only")[0]
        assert not any(row.group.startswith("dead letters") for row in page.table.rows_shown)
        assert page.check_action("redrive_all", ()) is False  # the primary's to do
        await wait_for(pilot, lambda: app.status_info.replica_lag is not None)
        line = str(app.screen.query_one("#status-line", Static).render())
        assert "replica, 2.5s behind" in line and "pending" not in line


async def test_colon_status_opens_it(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        app.run_command(":status")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))


async def test_lists_sort_by_any_column_and_export_what_is_shown(
    make_app: Callable[..., MdsApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(start=Location("impact", PLAYBACK))
    async with app.run_test(size=(120, 40)) as pilot:
        page = await listed(pilot, app, ImpactScreen)
        table = page.table

        def names_in(group: str) -> list[str]:
            return [r.cells[0].plain for r in table.rows_shown if r.group == group]

        group = max({r.group for r in table.rows_shown}, key=lambda g: len(names_in(g)))
        assert len(names_in(group)) > 1
        await pilot.press("s")  # by the first column: the entity
        assert table.sorted_by == "entity ↑"
        assert names_in(group) == sorted(names_in(group), key=str.casefold)
        await pilot.press("S")
        assert names_in(group) == sorted(names_in(group), key=str.casefold, reverse=True)
        await pilot.press("e")
        (written,) = tmp_path.glob("mds-impact-*.csv")
        with written.open() as f:
            records = list(csv.DictReader(f))
        assert [r["entity"] for r in records] == [
            r.cells[0].plain.strip() for r in table.rows_shown
        ]
        assert all(r["id"].startswith("aip://") for r in records if r["entity"])
        await pilot.press("E")
        (as_json,) = tmp_path.glob("mds-impact-*.json")
        assert len(json.loads(as_json.read_text())) == len(records)


async def test_a_fact_a_section_lays_out_is_not_repeated_in_the_attribute_line(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_entity(pilot, app, V5)
        sections = " ".join(str(s.render()) for s in page.query(".section"))
        assert "Deployment" in sections and "production" in sections
        line = str(page.query_one("#attributes", Static).render())
        assert "status" not in line.split() and "version" not in line.split()


@pytest.mark.parametrize("entity_id", [DAILY, None], ids=["entity", "whole graph"])
async def test_history_rows_fit_80_columns_and_widen_with_the_terminal(
    make_app: Callable[..., MdsApp], entity_id: str | None
) -> None:
    """A long name (an OpenLineage dataset's, a schema's JSON) is cut with an ellipsis so
    every row and the headline fit 80 columns: nothing scrolls sideways, nothing wraps.
    Wider, the same rows show more of the names again."""
    app = make_app(start=Location("history", entity_id))
    async with app.run_test(size=(80, 24)) as pilot:
        page = await listed(pilot, app, HistoryScreen)
        await pilot.pause(0.1)
        table = page.table
        assert table.virtual_size.width <= table.scrollable_content_region.width
        cut = [row.cells[1] for row in table.rows_shown if "…" in row.cells[1].plain]
        assert cut, "the fake's long names should need cutting at 80 columns"
        assert page.query_one("#summary", Static).size.height == 1
        narrow = sum(row.cells[1].cell_len for row in table.rows_shown)
        await pilot.resize_terminal(160, 45)
        await pilot.pause(0.2)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert sum(row.cells[1].cell_len for row in table.rows_shown) > narrow


async def test_an_entity_page_fits_80_columns_and_its_status_line_keeps_what_matters(
    make_app: Callable[..., MdsApp],
) -> None:
    """At 80 columns the relationships cut their long names, not the type nor "inferred ·
    p"; the header says when it was enriched on a line of its own rather than wrap it;
    the status line leaves out the last transaction's time before "live" is cut."""
    app = make_app(status_interval=0.2, live=True)
    async with app.run_test(size=(80, 24)) as pilot:
        page = await open_entity(pilot, app, V5)
        await pilot.pause(0.3)
        table = page.table
        assert table.virtual_size.width <= table.scrollable_content_region.width
        cells = [[str(c) for c in row.cells] for row in table.rows_shown]
        assert any(name.endswith("…") for name, _, _ in cells)
        assert "inferred · p" in [note for _, _, note in cells]
        header = str(page.query_one("#header", Static).render()).splitlines()
        assert all(len(line) <= 78 for line in header)
        assert any(line.startswith("Enriched ") for line in header)
        line = page.query_one(StatusLine)
        await wait_for(pilot, lambda: line._shown is not None and "entities" in line._shown.plain)
        assert line._shown is not None
        said = line._shown.plain
        assert line._shown.cell_len <= line.size.width and "  live " in said
        assert "dead letters 2" in said and "last tx" not in said
        await pilot.resize_terminal(160, 45)
        await pilot.pause(0.3)
        assert all(not str(row.cells[0]).endswith("…") for row in table.rows_shown)
        assert line._shown is not None and "last tx" in line._shown.plain
