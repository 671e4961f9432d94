"""The real explorer on the real daemon fed by the conformance platform.

Every check reads what a person sees (the rendered screen, or the rows of the widget on
it) and compares it with the platform's payloads normalized by contract 1.3/1.4
(``expect.graph``), never with what the TUI happens to draw today.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any, TypeVar, cast

import pytest
from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.widgets.tree import TreeNode

from mds.client import Client
from tests.conformance.expect import (
    Graph,
    graph,
    kind_of,
    required_downstream,
    required_upstream,
    teams_of,
    uri,
)
from tests.conformance.harness import Harness
from tests.conformance.org import CELL, MODEL, RAW, RUN, TEST, V5
from tests.tui.tui_support import wait_for as support_wait_for
from tui.app import MdsApp
from tui.screens.base import PageScreen
from tui.screens.entity import EntityScreen
from tui.screens.history import HistoryScreen
from tui.screens.impact import ImpactScreen
from tui.screens.info import InfoScreen
from tui.screens.lineage import LineageScreen
from tui.screens.search import SearchScreen
from tui.screens.usage import UsageScreen
from tui.widgets.lists import NavTable, Row

pytestmark = pytest.mark.slow

View = TypeVar("View", bound=PageScreen)

SIZE = (160, 60)


# -- what is on screen --------------------------------------------------------------------


def screen_text(app: MdsApp) -> str:
    """The terminal as a person sees it, as plain text (what ``export_screenshot`` draws)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(update)
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(line.rstrip() for line in lines if line.strip())


def toasts(app: MdsApp) -> list[str]:
    """The notifications on screen (toasts are drawn apart from the screen's widgets)."""
    return [n.message for n in app._notifications]


def static_text(page: PageScreen, selector: str) -> str:
    """The text of one ``Static`` on the page (all of it, scrolled into view or not)."""
    return str(page.query_one(selector, Static).render())


def cells(row: Row) -> list[str]:
    return [getattr(c, "plain", str(c)) for c in row.cells]


def table_rows(table: NavTable) -> list[tuple[str, str | None, list[str]]]:
    """Every row of a page's list as (group, target, cell texts)."""
    return [(row.group, row.target, cells(row)) for row in table.rows_shown]


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 15.0
) -> None:
    """The TUI tests' ``wait_for``, showing the screen when it times out."""
    await support_wait_for(
        pilot, predicate, timeout, what, detail=lambda: screen_text(cast(MdsApp, pilot.app))
    )


def idle(app: MdsApp, page: PageScreen) -> bool:
    """The page's load (and its sections, lineage expansions) have all answered."""
    return not [w for w in app.workers if w.node is page and not w.is_finished]


async def settle(pilot: Pilot[Any], app: MdsApp, what: str) -> PageScreen:
    page = app.page
    assert page is not None
    await wait_for(pilot, lambda: app.page is page and idle(app, page), what)
    return page


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*("space" if c == " " else c for c in text))


async def paste(pilot: Pilot[Any], text: str) -> None:
    """Paste ``text`` into the focused input (a key press costs ~0.1 s under Pilot)."""
    focused = pilot.app.focused
    assert isinstance(focused, Input), focused
    focused.post_message(events.Paste(text))
    await pilot.pause()


async def command(pilot: Pilot[Any], text: str) -> None:
    """``:`` then ``text`` (pasted) then Enter; in the search box, tab out of it first
    (``:`` is typed there)."""
    if isinstance(pilot.app.focused, Input):
        await pilot.press("tab")
    await pilot.press("colon")
    await paste(pilot, text)
    await pilot.press("enter")


async def entity_page(pilot: Pilot[Any], app: MdsApp, xid: str) -> EntityScreen:
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, EntityScreen)
            and app.screen.entity_id == xid
            and (app.screen.entity is not None or app.screen.failure is not None)
        ),
        f"the page of {xid}",
    )
    page = await settle(pilot, app, f"the sections of {xid}")
    assert isinstance(page, EntityScreen)
    return page


async def view_of(
    pilot: Pilot[Any], app: MdsApp, xid: str, key: str, kind: type[View], what: str
) -> View:
    """Open ``xid``'s page, press ``key``, and wait for that ``kind`` of view to settle."""
    await command(pilot, f"open {xid}")
    await entity_page(pilot, app, xid)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind), what)
    page = await settle(pilot, app, what)
    assert isinstance(page, kind)
    return page


@asynccontextmanager
async def explorer(h: Harness) -> AsyncIterator[tuple[MdsApp, Pilot[Any]]]:
    """``mds-tui --socket PATH`` on the harness daemon, live link on."""
    async with Client(h.daemon.socket) as client:
        app = MdsApp(client=client, status_interval=0.5)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "search")
            yield app, pilot


def no_errors_shown(page: PageScreen) -> None:
    """Nothing on the page says the explorer or the daemon failed."""
    assert page.failure is None, page.failure
    text = str(page.query_one("#message", Static).render())
    for sign in ("Unexpected error", "Daemon error", "rejected the request"):
        assert sign not in text, text
    for section in page.query(".section"):
        shown = str(section.render())
        assert "Unexpected error" not in shown and "Daemon error" not in shown, shown


def relationships_wanted(g: Graph, xid: str) -> set[tuple[str, str, bool]]:
    """(arrow, target, inferred) the contract requires on ``xid``'s page: its payload's
    references out, the references into it, and ``tested_in`` inferred either way."""
    want = {("→", t, False) for t in g.entities[xid].out}
    want |= {("←", s, False) for s in g.incoming(xid)}
    want |= {("→", t, True) for i, t in g.tested_in if i == xid}
    want |= {("←", i, True) for i, t in g.tested_in if t == xid}
    return want


def relationships_shown(page: EntityScreen) -> set[tuple[str, str, bool]]:
    shown = set()
    for row in page.table.rows_shown:
        if isinstance(row.data, dict) and row.target:
            inferred = "inferred" in cells(row)[2]
            shown.add((row.group.split(" ", 1)[0], row.target, inferred))
    return shown


# -- search --------------------------------------------------------------------------------


async def test_search_as_you_type_puts_the_exact_name_first_and_filters(loaded: Harness) -> None:
    g = graph(loaded.org)
    async with explorer(loaded) as (app, pilot):
        search = app.screen
        assert isinstance(search, SearchScreen)
        # an idle daemon sends no change for a while: the open stream is live all the same
        await wait_for(pilot, lambda: "live on" in screen_text(app), "the change stream", 5)
        await type_text(pilot, "Weekly rank")  # results while typing, before the whole name
        await wait_for(pilot, lambda: search.shown_query == "Weekly rank", "partial results")
        assert "Weekly ranking trainer" in screen_text(app)
        await type_text(pilot, "ing trainer")
        await wait_for(
            pilot, lambda: search.shown_query == "Weekly ranking trainer", "exact results"
        )
        first = search.results[0]
        assert first["id"] == uri("pipeline", "weekly-trainer"), search.results
        lines = [line for line in screen_text(app).splitlines() if "PIPE" in line]
        assert lines and "Weekly ranking trainer" in lines[0], screen_text(app)

        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, "type:model ranking")
        await wait_for(pilot, lambda: search.shown_query == "type:model ranking", "type filter")
        assert search.results, "a model is named Ranking model"
        assert {r["entity_type"] for r in search.results} == {"Model"}
        assert search.results[0]["id"] == MODEL
        text = screen_text(app)
        assert "Ranking model" in text and "Ranking v5 vs v4" not in text

        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, "owner:alice")
        await wait_for(pilot, lambda: search.shown_query == "owner:alice", "owner filter")
        alice = uri("user", "alice")
        owned = {x for x, e in g.entities.items() if alice in e.owners}
        assert {r["id"] for r in search.results} == owned
        text = screen_text(app)
        for xid in owned:
            assert g.entities[xid].name in text

        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, "tag:tier=gold")
        await wait_for(pilot, lambda: search.shown_query == "tag:tier=gold", "tag filter")
        tagged = {x for x, e in g.entities.items() if ("tier", "gold") in e.tags}
        assert {r["id"] for r in search.results} == tagged == {RAW}

        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, "Alice")
        await pilot.press("ctrl+t")  # people and teams: the query becomes @Alice
        await wait_for(pilot, lambda: search.shown_query == "@Alice", "people search")
        assert search.results and search.results[0]["id"] == alice
        assert "Alice Liddell" in screen_text(app)

        # Enter opens the highlighted (first) result
        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, "Raw playback events")
        await pilot.press("enter")
        page = await entity_page(pilot, app, RAW)
        no_errors_shown(page)


# -- the entity page -----------------------------------------------------------------------


async def test_entity_page_shows_the_normalized_entity(loaded: Harness) -> None:
    g = graph(loaded.org)
    want = g.entities[MODEL]
    async with explorer(loaded) as (app, pilot):
        await command(pilot, f"open {MODEL}")
        page = await entity_page(pilot, app, MODEL)
        no_errors_shown(page)
        header = static_text(page, "#header")
        assert want.name in header and want.entity_type in header and MODEL in header
        assert want.description and want.description in header
        owner_names = {g.entities[o].name for o in want.owners}
        assert owner_names == {"Alice Liddell"}
        owners_line = next(line for line in header.splitlines() if line.startswith("Owners"))
        assert "Alice Liddell" in owners_line and "ghost" not in owners_line
        tags_line = next(line for line in header.splitlines() if line.startswith("Tags"))
        for tag, value in want.tags:
            assert f"{tag}={value}" in tags_line
        first = header.splitlines()[0]
        assert "resolved" in first and "STUB" not in header and "DELETED" not in header
        assert relationships_wanted(g, MODEL) <= relationships_shown(page)
        text = screen_text(app)
        assert "Ranking model" in text and "Ranks the home page" in text


async def test_instance_page_marks_inferred_tested_in_with_its_provenance(
    loaded: Harness,
) -> None:
    g = graph(loaded.org)
    async with explorer(loaded) as (app, pilot):
        await command(pilot, f"open {V5}")
        page = await entity_page(pilot, app, V5)
        no_errors_shown(page)
        header = static_text(page, "#header")
        assert "ranking-model-v5" in header, "no name in the payload: the native id"
        assert "no description" in header
        assert "Owners   none" in header
        wanted = relationships_wanted(g, V5)
        assert {(a, t) for a, t, inferred in wanted if inferred} == {("→", TEST), ("→", CELL)}
        shown = relationships_shown(page)
        assert shown == wanted, f"missing {wanted - shown}, unexpected {shown - wanted}"
        for row in page.table.rows_shown:
            if row.target in g.entities and isinstance(row.data, dict):
                assert g.entities[row.target].name in cells(row)[0], cells(row)
        text = screen_text(app)
        assert text.count("inferred") >= 2 and "tested_in" in text

        # p on the inferred edge to the test: the rule and the whole supporting path
        rows = list(page.table.rows_shown)
        index = next(i for i, r in enumerate(rows) if r.target == TEST and "tested" in r.group)
        page.table.move_cursor(row=index)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoScreen), "provenance")
        text = str(app.screen.query_one(Static).render())
        assert "tested_in" in text
        path = ["ranking-model-v5", "train-001", "treatment", "Ranking v5 vs v4"]
        where = [text.find(name) for name in path]
        assert all(w >= 0 for w in where) and where == sorted(where), text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is page, "back to the page")

        # p on a declared edge says where it was declared
        index = next(i for i, r in enumerate(rows) if r.target == RUN)
        page.table.move_cursor(row=index)
        await pilot.press("p")
        await wait_for(pilot, lambda: toasts(app), "declared provenance")
        assert toasts(app)[-1] == "Declared: from the source payload of ranking-model-v5."

        # Enter follows a relationship; the test's page shows the edge coming in, inferred
        index = next(i for i, r in enumerate(rows) if r.target == TEST)
        page.table.move_cursor(row=index)
        await pilot.press("enter")
        test_page = await entity_page(pilot, app, TEST)
        no_errors_shown(test_page)
        assert relationships_wanted(g, TEST) <= relationships_shown(test_page)
        assert ("←", V5, True) in relationships_shown(test_page)


async def test_pages_of_entities_with_absent_or_null_fields(loaded: Harness) -> None:
    """Payloads with null names, lists, times; a stub; a test without cells; a team
    without a name: every page opens, with every view, and says what is missing."""
    g = graph(loaded.org)
    ids = [
        uri("dataset", "bronze"),  # versions, labels, owner_emails null
        uri("user", "carol"),  # name null
        uri("team", "empty-team"),  # no name, no members
        uri("feature", "ctr-1d"),  # source_dataset_ids null, updated_at null
        uri("pipeline-run", "train-002"),  # ab_test_cells null, no ended_at
        uri("model-instance", "ranking-model-v6"),  # pipeline_run_id, feature_ids null
        uri("ab-test", "777"),  # no cells, no owners
        uri("pipeline", "weekly-trainer"),  # schedule null, empty lists
        uri("dataset", "firehose"),  # reached only through a reference
        uri("dataset", "clickstream"),  # updated_at in lowercase RFC 3339, no versions
        uri("dataset", "sessions-weekly"),  # updated_at with nanoseconds
        *sorted(g.dangling),  # a stub forever
    ]
    async with explorer(loaded) as (app, pilot):
        for xid in ids:
            await command(pilot, f"open {xid}")
            page = await entity_page(pilot, app, xid)
            no_errors_shown(page)
            header = static_text(page, "#header")
            if xid in g.entities:
                want = g.entities[xid]
                assert want.name in header, (xid, header)
                assert (want.description or "no description") in header
                assert relationships_wanted(g, xid) <= relationships_shown(page), xid
                updated = line_with(header, "Updated").split("Updated", 1)[1]
                if want.updated_at is None:
                    assert updated.strip().startswith("—"), updated
                else:
                    minute = want.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
                    assert updated.strip().startswith(minute), (xid, updated)
                assert "resolved" in header.splitlines()[0], header
            else:
                assert "STUB" in header.splitlines()[0], header
            # every view of it, one after the other (the view keys work on every page)
            usage = ("u",) if kind_of(xid) in ("model-instance", "ab-test") else ()
            for key in ("i", "h", *usage, "l"):
                shown = app.page
                await pilot.press(key)
                await wait_for(pilot, lambda s=shown: app.page is not s, f"{key} of {xid}")
                view = await settle(pilot, app, f"{key} of {xid}")
                assert view.entity_id == xid
                no_errors_shown(view)


# -- lineage, impact, usage ----------------------------------------------------------------


async def key(pilot: Pilot[Any], name: str) -> None:
    """Send one key as the terminal would, without ``Pilot.press``'s wait for the whole
    screen to settle (~0.2 s a key): the caller waits for the key's effect instead."""
    char = name if len(name) == 1 else None
    pilot.app.post_message(events.Key(name, char))
    await pilot.pause(0)


async def expand_all(pilot: Pilot[Any], app: MdsApp, page: LineageScreen) -> set[str]:
    """Walk the tree with the keyboard, expanding every node (→) and moving down (↓) to
    the last line; returns the ids of every node shown."""
    tree = page.lineage_tree
    await settle(pilot, app, "lineage")
    tree.focus()
    await pilot.press("g")
    while True:
        node = tree.cursor_node
        assert node is not None
        if node.allow_expand and not node.is_expanded:
            await key(pilot, "right")
            await wait_for(
                pilot,
                lambda n=node: n.is_expanded and (n.children or not n.allow_expand),
                f"expanding {node.label}",
            )
            await settle(pilot, app, "lineage expansion")
            continue
        if tree.cursor_line >= tree.last_line:
            break
        line = tree.cursor_line
        await key(pilot, "down")
        await wait_for(pilot, lambda line=line: tree.cursor_line == line + 1, "moving down")
    shown: set[str] = set()
    stack: list[TreeNode[dict[str, Any]]] = [tree.root]
    while stack:
        node = stack.pop()
        if node.data and node.data.get("id"):
            shown.add(str(node.data["id"]))
        stack.extend(node.children)
    return shown


async def test_lineage_upstream_and_downstream_walk_the_whole_chain(loaded: Harness) -> None:
    g = graph(loaded.org)
    async with explorer(loaded) as (app, pilot):
        page = await view_of(pilot, app, V5, "l", LineageScreen, "lineage")
        assert "upstream" in static_text(page, "#summary")
        shown = await expand_all(pilot, app, page) - {V5}
        required = required_upstream(g, V5)
        assert uri("dataset", "firehose") in required
        assert required <= shown, f"missing upstream: {sorted(required - shown)}"
        assert not shown & {MODEL, TEST, CELL}, "a model and its tests are downstream"
        assert not {kind_of(x) for x in shown} & {"user", "team"}, "owners are not lineage"
        text = screen_text(app)
        for xid in {RUN, uri("feature", "watch-time-7d")}:
            assert g.entities[xid].name in text

        await pilot.press("left_square_bracket")
        page = await view_of(pilot, app, RAW, "l", LineageScreen, "lineage of raw")
        await pilot.press("tab")
        await wait_for(pilot, lambda: "downstream" in static_text(page, "#summary"), "tab")
        shown = await expand_all(pilot, app, page) - {RAW}
        required = required_downstream(g, RAW)
        assert {V5, MODEL, TEST} <= required
        assert required <= shown, f"missing downstream: {sorted(required - shown)}"
        assert not shown & {uri("dataset", "bronze"), uri("dataset", "firehose")}
        assert not {kind_of(x) for x in shown} & {"user", "team"}


async def test_impact_lists_the_downstream_and_whom_to_notify(loaded: Harness) -> None:
    g = graph(loaded.org)
    downstream = required_downstream(g, RAW)
    owners = {o for x in downstream for o in g.entities[x].owners}
    teams = {t for o in owners for t in teams_of(loaded.org, o)}
    assert uri("team", "search") in teams and uri("user", "carol") in owners
    async with explorer(loaded) as (app, pilot):
        page = await view_of(pilot, app, RAW, "i", ImpactScreen, "impact")
        no_errors_shown(page)
        rows = table_rows(page.table)
        affected = {t for group, t, _ in rows if not group.startswith("notify")}
        assert downstream <= affected, f"missing {sorted(downstream - affected)}"
        notified = {t for group, t, _ in rows if group == "notify owners"}
        assert owners <= notified, f"not notified: {sorted(owners - notified)}"
        told = {t for group, t, _ in rows if group == "notify teams"}
        assert teams <= told, f"teams not notified: {sorted(teams - told)}"
        for _, target, shown in rows:
            if target in g.entities:
                assert g.entities[target].name in shown[0], (target, shown)
        summary = static_text(page, "#summary")
        assert f"{len(affected)} downstream" in summary, summary
        for person in owners | teams:
            assert g.entities[person].name in summary, (person, summary)


async def test_usage_of_an_instance_a_model_and_a_test(loaded: Harness) -> None:
    g = graph(loaded.org)
    test_name = g.entities[TEST].name
    status = loaded.org.payload("tests", "12345")["status"]
    async with explorer(loaded) as (app, pilot):
        for xid in (V5, MODEL):
            page = await view_of(pilot, app, xid, "u", UsageScreen, f"usage of {xid}")
            no_errors_shown(page)
            rows = table_rows(page.table)
            assert [t for _, t, _ in rows] == [TEST], rows
            _, _, shown = rows[0]
            assert test_name in shown[0] and status in shown[1]
            assert g.entities[CELL].name in shown[2]
            assert static_text(page, "#summary").endswith("is in 1 A/B test")
        page = await view_of(pilot, app, TEST, "u", UsageScreen, "usage of the test")
        rows = table_rows(page.table)
        assert {(group, t) for group, t, _ in rows} == {("instances", V5), ("models", MODEL)}
        instance = next(shown for _, t, shown in rows if t == V5)
        assert g.entities[MODEL].name in instance[1] and g.entities[CELL].name in instance[2]
        page = await view_of(pilot, app, CELL, "u", UsageScreen, "usage of the cell")
        no_errors_shown(page)
        assert V5 in {t for _, t, _ in table_rows(page.table)}


# -- errors --------------------------------------------------------------------------------


async def test_errors_from_the_daemon_are_messages_and_the_explorer_goes_on(
    loaded: Harness,
) -> None:
    missing = uri("model", "no-such-model")
    async with explorer(loaded) as (app, pilot):
        await command(pilot, f"open {missing}")
        page = await entity_page(pilot, app, missing)
        assert page.failure is not None and page.failure.kind == "missing"
        assert "Not found" in screen_text(app)
        for key in ("l", "i", "h"):
            await pilot.press(key)
            view = await settle(pilot, app, f"{key} of a missing entity")
            assert view.failure is None or view.failure.kind == "missing", view.failure
            await pilot.press("left_square_bracket")
            await entity_page(pilot, app, missing)

        await command(pilot, f"open {MODEL}")
        page = await entity_page(pilot, app, MODEL)
        no_errors_shown(page)
        await command(pilot, "asof 2000-01-01")  # before anything existed
        await wait_for(pilot, lambda: page.failure is not None, "the page as of 2000")
        assert page.failure is not None and page.failure.kind == "missing"
        text = screen_text(app)
        assert "AS OF 2000-01-01" in text and "Not found" in text
        for key in ("l", "i", "u", "h"):
            await pilot.press(key)
            view = await settle(pilot, app, f"{key} as of 2000")
            assert view.failure is None or view.failure.kind == "missing", view.failure
            await pilot.press("left_square_bracket")
            await entity_page(pilot, app, MODEL)
        await command(pilot, "search Ranking model")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "search")
        search = app.screen
        assert isinstance(search, SearchScreen)
        await wait_for(pilot, lambda: search.shown_query == "Ranking model", "old search")
        assert search.failure is None and search.results == [], "nothing existed in 2000"
        await pilot.press("escape", "escape")  # clear the query, then back to the page
        page = await entity_page(pilot, app, MODEL)
        await command(pilot, "asof now")
        await wait_for(pilot, lambda: page.failure is None and page.entity, "back to live")
        no_errors_shown(page)
        assert "Ranks the home page" in screen_text(app)
        await command(pilot, "asof yesterday-ish")
        assert app.as_of is None, "a malformed moment is refused, the view stays live"
        await settle(pilot, app, "after a bad moment")
        assert not app._exit


# -- history and time travel (the sources change) ------------------------------------------


async def test_history_and_time_travel_around_a_retracted_inference(fresh: Harness) -> None:
    h = fresh
    async with explorer(h) as (app, pilot):
        await command(pilot, f"open {V5}")
        page = await entity_page(pilot, app, V5)
        assert {("→", TEST, True), ("→", CELL, True)} <= relationships_shown(page)
        before = (await app.client.status())["last_tx"]

        # the run is taken out of the cell while the page is on screen
        h.org.payload("pipeline-runs", "train-001")["ab_test_cells"] = []
        await asyncio.to_thread(
            h.ingest, [{"event_type": "pipeline_run_completed", "run_id": "train-001"}]
        )
        await asyncio.to_thread(h.wait_idle)
        assert graph(h.org).tested_in == set()
        await wait_for(
            pilot,
            lambda: not {t for _, t, inferred in relationships_shown(page) if inferred},
            "the live page to drop tested_in",
        )
        assert "inferred" not in screen_text(app)

        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
        history = await settle(pilot, app, "history")
        assert isinstance(history, HistoryScreen)
        no_errors_shown(history)
        changes = [
            (row.data, cells(row)[1])
            for row in history.table.rows_shown
            if cells(row)[1].lstrip("+- ").startswith("tested_in →")
        ]
        for name in ("Ranking v5 vs v4", "treatment"):
            # a change reads "+ tested_in →  NAME", with "  valid from WHEN" when it holds
            # from another moment than its transaction's usual one
            ends = re.compile(rf"{re.escape(name)}(  valid from .*)?$")
            seen = [(tx, text[0]) for tx, text in changes if ends.search(text)]
            assert sorted(seen) == sorted(seen, key=lambda s: s[1] == "-"), seen
            assert [sign for _, sign in sorted(seen)] == ["+", "-"], seen
            assert sorted(seen)[0][0] <= before < sorted(seen)[1][0]
        text = screen_text(app)
        assert "+ tested_in →" in text and "- tested_in →" in text

        # as of the moment before the change, the inference and the lineage through it hold
        await pilot.press("left_square_bracket")
        page = await entity_page(pilot, app, V5)
        await command(pilot, f"asof tx:{before}")
        await wait_for(
            pilot,
            lambda: {("→", TEST, True), ("→", CELL, True)} <= relationships_shown(page),
            "tested_in as of before",
        )
        assert f"AS OF tx {before}" in screen_text(app)
        await command(pilot, f"open {RAW}")
        await entity_page(pilot, app, RAW)
        await command(pilot, "lineage down")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen), "lineage")
        lineage = app.screen
        assert isinstance(lineage, LineageScreen)
        then = await expand_all(pilot, app, lineage)
        assert TEST in then, "the test was downstream of raw-events then"
        await command(pilot, "asof now")
        await wait_for(pilot, lambda: "AS OF" not in screen_text(app), "live again")
        now = await expand_all(pilot, app, lineage)
        assert TEST not in now and V5 in now

        # Enter on a history row travels to that transaction
        await command(pilot, f"open {V5}")
        page = await entity_page(pilot, app, V5)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
        history = await settle(pilot, app, "history again")
        assert isinstance(history, HistoryScreen)
        rows = list(history.table.rows_shown)
        asserted = next(i for i, r in enumerate(rows) if cells(r)[1].startswith("+ tested_in →"))
        history.table.move_cursor(row=asserted)
        await pilot.press("enter")
        page = await entity_page(pilot, app, V5)
        assert app.as_of == f"tx:{rows[asserted].data}"
        await wait_for(
            pilot,
            lambda: ("→", TEST, True) in relationships_shown(page),
            "tested_in as of its assertion",
        )

        # { and } step through the instance's own changes by valid time; past the last
        # one is live
        await command(pilot, "asof now")
        await wait_for(pilot, lambda: app.as_of is None and not inferred_shown(page), "live")
        await pilot.press("left_curly_bracket")
        await wait_for(pilot, lambda: app.as_of is not None, "{ back a change")
        await wait_for(pilot, lambda: inferred_shown(page) == {TEST, CELL}, "tested_in then")
        held = app.as_of
        await pilot.press("right_curly_bracket")
        await wait_for(pilot, lambda: app.as_of not in (None, held), "} forward")
        await wait_for(pilot, lambda: page.entity and not inferred_shown(page), "retracted")
        await pilot.press("right_curly_bracket")
        await wait_for(pilot, lambda: app.as_of is None, "} past the last change: live")

        # @ takes an RFC 3339 instant, as the daemon wrote it in the history
        log = await asyncio.to_thread(h.ok, "history")
        when = next(t["at"] for t in log["transactions"] if t["tx"] == before)
        await pilot.press("at")
        await pilot.press("ctrl+a", "ctrl+k")
        await paste(pilot, when.lower())
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.as_of == when.lower(), "the as-of moment")
        await wait_for(pilot, lambda: inferred_shown(page) == {TEST, CELL}, "tested_in at then")
        assert f"AS OF {when.lower()}" in screen_text(app)
        assert "(valid time)" in screen_text(app), "the bar names the axis"

        # an entity its source answers 404 for is shown deleted, and resolved before that
        legacy = uri("dataset", "legacy-dump")
        h.org.remove("datasets", "legacy-dump")
        await asyncio.to_thread(
            h.ingest, [{"event_type": "dataset_deleted", "dataset_id": "legacy-dump"}]
        )
        await asyncio.to_thread(h.wait_idle)
        await command(pilot, "asof now")
        await command(pilot, f"open {legacy}")
        page = await entity_page(pilot, app, legacy)
        no_errors_shown(page)
        assert "DELETED" in static_text(page, "#header")
        await command(pilot, f"asof tx:{before}")
        await wait_for(pilot, lambda: "DELETED" not in static_text(page, "#header"), "then")
        assert "Legacy dump" in static_text(page, "#header")

        # the graph's own history lists the latest transactions and what they touched
        await command(pilot, "asof now")
        await pilot.press("escape")
        await command(pilot, "search")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "search")
        await command(pilot, "history")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "global history")
        history = await settle(pilot, app, "global history")
        assert isinstance(history, HistoryScreen) and history.entity_id is None
        no_errors_shown(history)
        rows = table_rows(history.table)
        latest = max(t["tx"] for t in (await asyncio.to_thread(h.ok, "history"))["transactions"])
        assert rows and rows[0][0].startswith(f"tx {latest}"), rows[:3]
        assert "legacy-dump" in rows[0][2][1] or "Legacy dump" in rows[0][2][1], rows[0]


def sections_text(page: EntityScreen) -> str:
    return "\n".join(str(s.render()) for s in page.query(".section"))


def line_with(text: str, needle: str) -> str:
    found = [line for line in text.splitlines() if needle in line]
    assert found, f"no line with {needle!r} in:\n{text}"
    return found[0]


async def test_type_sections_show_the_payloads_facts(loaded: Harness) -> None:
    org = loaded.org
    async with explorer(loaded) as (app, pilot):
        await command(pilot, f"open {MODEL}")
        page = await entity_page(pilot, app, MODEL)
        text = sections_text(page)
        model = org.payload("models", "ranking-model")
        current = model["current_instance_id"]
        for native in model["instance_ids"]:
            instance = org.payload("instances", native)
            line = line_with(text, native)
            assert instance["status"] in line and f"v{instance['version']}" in line, line
            assert ("◀ current" in line) == (native == current), line

        await command(pilot, f"open {RUN}")
        page = await entity_page(pilot, app, RUN)
        text = sections_text(page)
        run = org.payload("pipeline-runs", "train-001")
        assert run["status"] in line_with(text, "Status")
        # 2025-01-04T00:00:00+02:00 is 22:00 UTC the day before; no end time: a dash
        assert line_with(text, "Ran").split(None, 1)[1] == "2025-01-03 22:00 → —"
        reads = line_with(text, "Reads")
        for ref in run["input_dataset_versions"]:
            assert f"{ref['dataset_id']}@{ref['version']}" in reads, reads
        assert run["ab_test_cells"][0]["cell_name"] in line_with(text, "For cells")

        await command(pilot, f"open {RAW}")
        page = await entity_page(pilot, app, RAW)
        text = sections_text(page)
        for version in org.payload("datasets", "raw-events")["versions"]:
            line = line_with(text, version["version"])
            if version.get("row_count") is not None:
                assert f"{version['row_count']:,} rows" in line, line

        await command(pilot, f"open {TEST}")
        page = await entity_page(pilot, app, TEST)
        text = sections_text(page)
        test = org.payload("tests", "12345")
        assert test["status"] in line_with(text, "Status")
        for cell in test["cells"]:
            line = line_with(text, f"Cell {cell['cell_number']}")
            assert cell["name"] in line
            assert ("ranking-model-v5" in line) == (cell["cell_number"] == 2), line


def inferred_shown(page: EntityScreen) -> set[str]:
    return {target for _, target, inferred in relationships_shown(page) if inferred}
