"""Moving around: following relationships, back/forward, q, the command line, palette, help."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_daemon import CHURN, RANKING, RUN2, V5, FakeDaemon
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_support import wait_for

from tui.app import MdsApp
from tui.kept_pages import KEPT_PAGES
from tui.nav import Location
from tui.screens.bookmarks import BookmarksScreen
from tui.screens.entity import EntityScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.lineage import LineageScreen
from tui.screens.prompt import CommandLine
from tui.screens.search import SearchScreen
from tui.textual_internals import StylesCache
from tui.widgets.chrome import AsOfBar, Breadcrumbs, StatusLine
from tui.widgets.keybar import KeyBar


async def open_entity(pilot: Pilot[None], app: MdsApp, entity_id: str) -> EntityScreen:
    """Open the page and wait until it has loaded all it shows (its sections included)."""
    app.open_entity(entity_id)
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, EntityScreen)
            and app.screen.entity_id == entity_id
            and app.screen.entity is not None
            and all(w.is_finished for w in app.workers if w.node is app.screen)
        ),
        what=f"entity page of {entity_id}",
    )
    assert isinstance(app.screen, EntityScreen)
    return app.screen


async def open_history(pilot: Pilot[None], app: MdsApp, entity_id: str) -> HistoryScreen:
    """Open the entity's page, then ``h``, and wait for its transactions."""
    await open_entity(pilot, app, entity_id)
    await pilot.press("h")
    await wait_for(
        pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.table.row_count
    )
    assert isinstance(app.screen, HistoryScreen)
    return app.screen


async def test_enter_follows_a_relationship_and_brackets_go_back_and_forward(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        page = await open_entity(pilot, app, V5)
        targets = [row.target for row in page.table.rows_shown]
        await pilot.press("G")
        assert page.table.cursor_row == len(targets) - 1
        await pilot.press("g", "j")
        assert page.table.cursor_row == 1
        page.table.move_cursor(row=targets.index(RUN2))
        await pilot.press("enter")
        await open_entity(pilot, app, RUN2)
        await pilot.press("left_square_bracket")
        page = await open_entity(pilot, app, V5)
        assert page.table.cursor_row == targets.index(RUN2), "the cursor is restored on back"
        await pilot.press("right_square_bracket")
        await open_entity(pilot, app, RUN2)
        breadcrumbs = str(app.screen.query_one("#breadcrumbs", Static).render())
        assert (
            "ranking-model-v5-20250101" in breadcrumbs
            and "train-weekly-ranking-20250101" in breadcrumbs
        )


async def test_back_shows_the_page_left_as_it_was_with_fresh_data(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    """Going back is a repaint of the page kept, not a rebuild: cursor and filter as left,
    data loaded again (it changed meanwhile); visited anew, it starts afresh."""
    app = make_app()
    async with app.run_test() as pilot:
        page = await open_entity(pilot, app, RANKING)
        await pilot.press("G")
        cursor = page.table.cursor_row
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen))
        fake.graph.update("2025-02-01T00:00:00Z", RANKING, description="Changed meanwhile.")
        await pilot.press("left_square_bracket")
        await wait_for(
            pilot, lambda: page.entity is not None and "meanwhile" in page.entity["description"]
        )
        assert app.screen is page
        assert page.table.cursor_row == cursor
        assert "Changed meanwhile." in str(page.query_one("#header", Static).render())

        for _ in range(KEPT_PAGES):
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen))
            await pilot.press("left_square_bracket")
            await wait_for(pilot, lambda: isinstance(app.screen, EntityScreen))
        assert app.screen is page, "the page shown most recently is kept"
        for _ in range(KEPT_PAGES):
            await pilot.press("left_square_bracket")
            await wait_for(pilot, lambda: app.screen is not page)
        left = page.location
        again = await open_entity(pilot, app, RANKING)
        # a new visit, not the entry left: shown afresh, cursor at the top (the page built
        # for the entry left, which nothing reaches now, may be given it: KeptPages.spare)
        assert again.location is app.history.current and again.location is not left
        assert cursor > 0 and again.table.cursor_row == 0


async def test_q_goes_back_then_quits_at_the_root(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await open_entity(pilot, app, CHURN)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press("tab", "q")  # leave the input (where q is a letter), then quit
        await wait_for(pilot, lambda: app._exit)


async def test_command_line_lists_a_kind_and_opens_by_id(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("tab", "colon", *"models", "enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SearchScreen) and app.screen.shown_query == "type:model",
        )
        assert isinstance(app.screen, SearchScreen)
        assert {r["id"] for r in app.screen.results} == {RANKING, CHURN}
        await pilot.press("tab", "colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLine))
        app.screen.query_one(Input).value = f"open {V5}"
        await pilot.press("enter")
        await open_entity(pilot, app, V5)
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLine))
        app.screen.query_one(Input).value = "nonsense"
        await pilot.press("enter")  # a bad command is a notice, not a crash
        await pilot.pause(0.1)
        assert isinstance(app.screen, EntityScreen)


async def test_palette_finds_an_entity_in_the_daemon(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"churn-mo")
        palette = app.screen

        def found() -> bool:
            options = palette.query_one("CommandList")
            return any(
                "churn-model" in str(options.get_option_at_index(i).prompt)
                for i in range(options.option_count)
            )

        await wait_for(pilot, found, what="palette hit")
        await pilot.press("enter")
        await open_entity(pilot, app, CHURN)


async def test_the_key_bar_keeps_help_on_a_narrow_terminal(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(60, 24)) as pilot:
        page = await open_entity(pilot, app, RANKING)
        bar = page.query_one(KeyBar)
        await wait_for(pilot, lambda: bar._shown is not None and "Lineage" in bar._shown.plain)
        assert bar._shown is not None and bar._shown.plain.startswith(" ? Help ")
        # cut between entries, never in a word: the last thing shown is a whole one, then …
        shown = bar._shown.plain
        assert len(shown) <= 60 and shown.endswith("…")
        assert shown[:-1].endswith(" ")


async def test_help_lists_the_live_bindings_including_a_user_keymap(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app(keymap={"lineage": "L"})
    async with app.run_test(size=(110, 50)) as pilot:
        await open_entity(pilot, app, RANKING)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        keys = {entry.binding_id: entry.keys for entry in app.screen.entries}
        for binding_id in ("impact", "usage", "history", "provenance", "back", "tx_prev", "down"):
            assert binding_id in keys
        assert keys["lineage"] == ["L"]
        # only the explorer's own keys: none of the widgets' own (copy, page left)
        descriptions = {entry.description for entry in app.screen.entries}
        assert not {"Copy selected text", "Page left", "Page Left"} & descriptions
        assert all(entry.binding_id for entry in app.screen.entries)
        dialog = app.screen.query_one("#dialog")
        await pilot.press("G")
        await wait_for(pilot, lambda: dialog.scroll_y > 0, what="G scrolls help to its end")
        await pilot.press("g")
        await wait_for(pilot, lambda: dialog.scroll_y == 0, what="g scrolls help to its top")
        await pilot.press("escape", "l")  # rebound: l does nothing now
        await pilot.pause(0.1)
        assert isinstance(app.screen, EntityScreen)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen))


async def test_unknown_keymap_ids_are_reported_not_fatal(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(keymap={"no_such_binding": "x"})
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause(0.1)
        assert any("no_such_binding" in str(n.message) for n in app._notifications)


async def test_slash_filters_the_list_and_escape_clears_then_goes_back(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app(start=Location("entity", V5))
    async with app.run_test() as pilot:
        page = await open_entity(pilot, app, V5)
        total = len(page.table.rows_shown)
        await pilot.press("slash", *"tenure")
        await wait_for(pilot, lambda: len(page.table.rows_shown) == 1)
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: len(page.table.rows_shown) == total)
        await pilot.press("escape")  # nothing to clear: back (here: nowhere, stays)
        await pilot.pause(0.05)
        assert isinstance(app.screen, EntityScreen)
        # esc in the filter itself clears it and hands the keys back to the list
        await pilot.press("slash", *"tenure", "escape")
        await wait_for(pilot, lambda: len(page.table.rows_shown) == total)
        assert app.focused is page.table
        before = page.table.cursor_row
        await pilot.press("j")
        assert page.table.cursor_row == before + 1


async def test_pages_left_are_released(make_app: Callable[..., MdsApp]) -> None:
    """A page left is garbage with all its widgets once no longer kept for going back,
    however long the session. Two Textual leaks kept them: the watchers the chrome put on
    the app (Textualize/textual#6666) and the render cache keyed by widget
    (Textualize/textual#6665)."""
    app = make_app(status_interval=3600)  # no status change prunes watchers meanwhile

    def alive() -> tuple[int, int, int]:
        gc.collect()
        objects = gc.get_objects()
        pages = [o for o in objects if isinstance(o, EntityScreen | AsOfBar | StatusLine)]
        left = [o for o in pages if not o.is_attached]
        entity_pages = sum(1 for o in pages if isinstance(o, EntityScreen))
        return len(left), entity_pages, sum(1 for o in objects if isinstance(o, StylesCache))

    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        counts = []
        for visits in (KEPT_PAGES + 1, 9):  # the kept pages are all entity pages after the first
            for _ in range(visits):
                await open_entity(pilot, app, CHURN)
                await pilot.press("left_square_bracket")
                await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
            await pilot.pause(0.1)
            counts.append(alive())
        (left_before, pages_before, caches_before), (left_after, pages_after, caches_after) = counts
        assert left_before == left_after == 0, "widgets of pages left are alive"
        assert pages_before == pages_after <= KEPT_PAGES - 1, "more pages alive than kept"
        assert caches_after <= caches_before, "render caches of pages left are alive"


async def test_an_entity_page_left_for_good_shows_the_next_entity_with_nothing_of_the_last(
    make_app: Callable[..., MdsApp],
) -> None:
    """Enter, back, Enter on another: the page built for the first, which nothing can go
    back to now, is given the second (building it was most of an Enter), and shows the
    second only: its header, sections and relationships, no filter, no sort, the top row."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        first = await open_entity(pilot, app, V5)
        await pilot.press("G", "s", "slash", *"model", "enter")
        await wait_for(pilot, lambda: first.table.filter_text == "model", what="filtered")
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), what="back")
        v5_targets = {row.target for row in first.table._rows}
        second = await open_entity(pilot, app, CHURN)
        assert second is first, "the page left for good was not reused"
        assert second.entity is not None
        header = str(second.query_one("#header", Static).render())
        assert "churn" in header and "ranking-model-v5" not in header
        assert "Deployment" not in str(second.query_one("#sections", Static).render())
        related = {rel["target"] for rel in second.entity["relationships"]}
        linked = {row.target for row in second._link_rows}  # what its sections point at
        assert {row.target for row in second.table.rows_shown} == related | linked
        assert v5_targets - related - linked, "V5 relates to nothing CHURN does not"
        assert second.table.cursor_row == 0 and second.table.sort_column is None
        assert not second.query_one("#filter").display and second.table.filter_text == ""
        # going back and forth still finds each entry's own page
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), what="back again")
        app.action_go_forward()  # ] would type into the search box
        await wait_for(pilot, lambda: app.screen is second and second.entity is not None)
        assert second.entity is not None and second.entity["id"] == CHURN


async def test_navigating_again_before_a_page_has_mounted(make_app: Callable[..., MdsApp]) -> None:
    """Keys can arrive faster than pages mount ([ then Enter, a held [): a page replaced
    while it mounts is skipped, not a crash, and the one asked for last is shown."""
    app = make_app()
    async with app.run_test() as pilot:
        for _ in range(3):
            await open_entity(pilot, app, CHURN)
            app.action_go_back()  # and on at once, while the search page mounts
        await open_entity(pilot, app, V5)
        app.action_go_back()
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.shown)
        assert app.return_code is None
        await open_entity(pilot, app, CHURN)
        app.action_go_back()  # and quit while the search page mounts
    assert app.return_code in (None, 0)


async def test_a_very_long_name_keeps_where_you_are_on_one_line(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    long_name = "an-extremely-long-model-name-" * 8
    fake.graph.update("2025-01-11T00:00:00Z", RANKING, name=long_name)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_history(pilot, app, RANKING)
        crumbs = app.screen.query_one(Breadcrumbs)
        await wait_for(
            pilot, lambda: crumbs._shown is not None and "history" in crumbs._shown.plain
        )
        assert crumbs._shown is not None and crumbs._shown.cell_len <= 80
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "…" in summary and long_name not in summary


async def test_y_copies_the_id_under_the_cursor(make_app: Callable[..., MdsApp]) -> None:
    """On a list, the row's entity; where no row points anywhere, the page's own."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_entity(pilot, app, V5)
        row = page.table.current
        assert row is not None and row.target
        await pilot.press("y")
        assert app.clipboard == row.target
        await pilot.press("j", "y")
        moved = page.table.current
        assert moved is not None and app.clipboard == (moved.target or V5)


async def test_o_opens_the_entity_in_its_sources_ui(
    make_app: Callable[..., MdsApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row's entity, in the UI its source's ui_url names (the fake's registry has
    one); a source without says how to give it one."""
    opened: list[str] = []
    app = make_app()
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        page = await open_entity(pilot, app, RANKING)
        rows = page.table.rows_shown
        registry = next(i for i, r in enumerate(rows) if r.target and "/registry/" in r.target)
        elsewhere = next(i for i, r in enumerate(rows) if r.target and "/identity/" in r.target)
        page.table.move_cursor(row=registry)
        await pilot.press("o")
        target = rows[registry].target
        assert target is not None
        await wait_for(pilot, lambda: opened)
        assert opened == [f"https://registry.example/{target.split('/', 4)[-1]}"]
        assert app.clipboard == opened[0]
        page.table.move_cursor(row=elsewhere)
        await pilot.press("o")
        await wait_for(pilot, lambda: any("ui_url" in str(n.message) for n in app._notifications))
        assert len(opened) == 1


async def test_b_bookmarks_and_bookmarks_lists_them_across_sessions(
    make_app: Callable[..., MdsApp], tmp_path: Path
) -> None:
    async with make_app().run_test(size=(120, 40), notifications=True) as pilot:
        app = pilot.app
        assert isinstance(app, MdsApp)
        page = await open_entity(pilot, app, V5)
        marked = page.pointed_id()  # the highlighted relationship's entity
        assert marked is not None
        await pilot.press("b")
        assert [b["id"] for b in app.bookmarks.items] == [marked]
    saved = json.loads((tmp_path / "bookmarks.json").read_text())
    assert [b["id"] for b in saved] == [marked]
    app = make_app()  # a new session reads them back
    async with app.run_test(size=(120, 40)) as pilot:
        app.run_command(":bookmarks")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BookmarksScreen) and app.screen.table.row_count
        )
        page = app.screen
        assert isinstance(page, BookmarksScreen)
        assert [r.target for r in page.table.rows_shown] == [marked]
        await pilot.press("b")  # on its row: unmarked, and gone from the list
        await wait_for(pilot, lambda: page.table.row_count == 0)
        assert json.loads((tmp_path / "bookmarks.json").read_text()) == []


async def test_an_unreadable_bookmarks_file_is_said_and_left_alone(
    make_app: Callable[..., MdsApp], tmp_path: Path
) -> None:
    path = tmp_path / "bookmarks.json"
    path.write_text("{not json")
    app = make_app()
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause(0.05)
        assert any("bookmarks" in str(n.message) for n in app._notifications)
    assert path.read_text() == "{not json"


async def test_theme_by_option_and_command(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(theme="nord")
    async with app.run_test(notifications=True) as pilot:
        assert app.theme == "nord"
        app.run_command(":theme gruvbox")
        assert app.theme == "gruvbox"
        app.run_command(":theme no-such")
        await pilot.pause(0.05)
        assert app.theme == "gruvbox"
        assert any("there are:" in str(n.message) for n in app._notifications)


async def test_the_breadcrumbs_lengthen_again_when_the_terminal_widens(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(60, 24)) as pilot:
        await open_entity(pilot, app, V5)
        await open_entity(pilot, app, RANKING)
        await open_entity(pilot, app, CHURN)
        crumbs = app.screen.query_one(Breadcrumbs)
        await wait_for(pilot, lambda: crumbs._shown is not None and "…" in crumbs._shown.plain)
        await pilot.resize_terminal(200, 40)
        await wait_for(
            pilot,
            lambda: (
                crumbs._shown is not None
                and "…" not in crumbs._shown.plain
                and "ranking-model-v5" in crumbs._shown.plain
            ),
        )
