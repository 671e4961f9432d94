"""As-of: switching moments, stepping between transactions, and the history view."""

from __future__ import annotations

from collections.abc import Callable

from fake_daemon import RANKING, V5, FakeDaemon
from test_tui_navigation import open_entity, open_history
from textual.pilot import Pilot
from textual.widgets import Static
from tui_support import wait_for

from tui.app import MdsApp
from tui.screens.diff import DiffScreen
from tui.screens.entity import EntityScreen
from tui.widgets.chrome import StatusLine


def header(app: MdsApp) -> str:
    return str(app.screen.query_one("#header", Static).render())


def description_is(app: MdsApp, text: str) -> Callable[[], bool]:
    return lambda: (
        isinstance(app.screen, EntityScreen)
        and app.screen.entity is not None
        and app.screen.entity["description"] == text
    )


async def test_as_of_shows_an_older_state_and_now_returns_to_live(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_entity(pilot, app, RANKING)
        assert "v5 rollout" in header(app)
        app.run_command(":asof 2025-01-02")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        bar = app.screen.query_one("#asof-bar", Static)
        assert bar.display and "AS OF 2025-01-02 (valid time)" in str(bar.render())
        app.run_command(":asof now")
        await wait_for(pilot, description_is(app, "Ranks the home feed (v5 rollout)."))
        assert not app.screen.query_one("#asof-bar", Static).display


async def test_an_entity_that_did_not_exist_yet_says_so(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(as_of="tx:1")
    async with app.run_test() as pilot:
        app.open_entity(V5)
        await wait_for(
            pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.failure is not None
        )
        assert app.screen.failure.kind == "missing"
        assert "as of tx:1" in str(app.screen.query_one("#message", Static).render())


async def step(pilot: Pilot[None], app: MdsApp, key: str, expected: str | None) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: app.as_of == expected, what=f"as of {expected}")


async def test_braces_step_through_the_entity_transactions(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_entity(pilot, app, RANKING)  # changed in tx 1 and tx 3
        await step(pilot, app, "left_curly_bracket", "2024-12-01T09:00:00Z")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        assert "AS OF 2024-12-01T09:00:00Z (valid time)" in app.as_of_label
        await step(pilot, app, "right_curly_bracket", "2025-01-10T09:00:00Z")
        await step(pilot, app, "right_curly_bracket", None)
        await wait_for(pilot, description_is(app, "Ranks the home feed (v5 rollout)."))


async def test_history_shows_diffs_and_enter_travels_to_that_transaction(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        page = await open_history(pilot, app, RANKING)
        lines = [" ".join(str(c) for c in row.cells) for row in page.table.rows_shown]
        assert any("- description  Ranks the home feed." in line for line in lines)
        assert any("+ description  Ranks the home feed (v5 rollout)." in line for line in lines)
        oldest = max(i for i, row in enumerate(page.table.rows_shown) if row.data == 1)
        page.table.move_cursor(row=oldest)
        await pilot.press("enter")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        assert app.as_of == "tx:1"
        assert app.history.current is not None and app.history.current.view == "entity"


async def test_at_prompts_for_the_moment(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(notifications=True) as pilot:
        await open_entity(pilot, app, RANKING)
        await pilot.press("at", *"tx:1", "enter")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        await pilot.press("at", "ctrl+u", *"soon", "enter")  # not a moment: said, not done
        await wait_for(
            pilot, lambda: any("bad as_of 'soon'" in str(n.message) for n in app._notifications)
        )
        assert app.as_of == "tx:1"


async def test_a_moment_before_the_entity_hides_what_it_became(
    make_app: Callable[..., MdsApp],
) -> None:
    """The page shown live is not left under the banner of a moment it did not exist at."""
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        page = await open_entity(pilot, app, V5)
        body = page.query_one("#body")
        app.run_command(":asof tx:1")
        await wait_for(pilot, lambda: page.failure is not None and page.failure.kind == "missing")
        assert not body.display
        app.run_command(":asof now")
        await wait_for(pilot, lambda: page.failure is None and body.display)
        assert page.table.has_focus


async def test_a_deleted_entity_says_so_and_how_to_see_it_before(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    fake.graph.update("2025-01-11T00:00:00Z", V5, status="deleted", relationships=[])
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_entity(pilot, app, V5)
        assert "DELETED" in header(app) and "{ shows it as it was before" in header(app)
        await step(pilot, app, "left_curly_bracket", "2025-01-10T09:00:00Z")
        await wait_for(pilot, lambda: "resolved" in header(app))
        assert "Deleted:" not in header(app)


async def test_the_status_line_says_live_only_when_it_is(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_entity(pilot, app, RANKING)
        status = lambda: str(app.screen.query_one(StatusLine).render())  # noqa: E731
        await wait_for(pilot, lambda: "live" in status())
        app.run_command(":asof known tx:1")
        await wait_for(pilot, lambda: "past view" in status() and "live" not in status())
        app.run_command(":asof now")
        await wait_for(pilot, lambda: "live" in status() and "past view" not in status())


async def test_known_asks_as_mds_knew_it_then_and_the_bar_says_so(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_entity(pilot, app, RANKING)
        await pilot.press("at", *"known tx:1", "enter")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        assert (app.as_of, app.known_at) == (None, "tx:1")
        bar = str(app.screen.query_one("#asof-bar", Static).render())
        assert "AS MDS KNEW IT AT tx 1 (system time" in bar
        assert any("known_at=tx%3A1" in r for r in fake.graph.requests)
        # both axes at once; the prompt shows what it reads
        await pilot.press("at", "ctrl+u", *"2025-01-02 known 1d", "enter")
        await wait_for(pilot, lambda: (app.as_of, app.known_at) == ("2025-01-02", "1d"))
        assert "AS OF 2025-01-02 (valid time) · AS MDS KNEW IT 1d AGO" in app.as_of_label


async def test_before_its_known_history_the_page_says_where_it_begins_and_braces_go_there(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app(as_of="2024-06-01")  # before anything the fake graph knows
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_entity(V5)
        await wait_for(
            pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.failure is not None
        )
        message = str(app.screen.query_one("#message", Static).render())
        assert "as of 2024-06-01 (valid time)" in message
        assert "known history begins at" in message and "} steps to it" in message
        await pilot.press("right_curly_bracket")
        await wait_for(pilot, lambda: app.as_of == "2025-01-01T09:00:00Z")
        await wait_for(pilot, lambda: app.screen.failure is None and "v5" in header(app))


async def test_back_shows_each_page_at_the_moments_it_was_seen(
    make_app: Callable[..., MdsApp],
) -> None:
    """A page seen live, then a page opened in time travel: back is live again, forward
    is back in the past (a browser's back restores the address with its query)."""
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_entity(pilot, app, V5)
        await open_entity(pilot, app, RANKING)
        app.run_command(":asof 2025-01-02")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: app.as_of is None and app.screen.entity_id == V5)
        assert not app.screen.query_one("#asof-bar", Static).display
        await pilot.press("right_square_bracket")
        await wait_for(pilot, description_is(app, "Ranks the home feed."))
        assert app.as_of == "2025-01-02"


async def test_diff_shows_what_changed_since_a_moment(make_app: Callable[..., MdsApp]) -> None:
    """The model's description then and now, and the instance (and its edges) its lineage
    gained since."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_entity(pilot, app, RANKING)
        app.run_command(":diff 2024-12-02")
        await wait_for(
            pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.table.row_count
        )
        page = app.screen
        assert isinstance(page, DiffScreen)
        rows = {(r.group, str(r.cells[0])): r for r in page.table.rows_shown}
        description = rows[("facts", "description")]
        assert str(description.cells[1]) == "Ranks the home feed."
        assert str(description.cells[2]) == "Ranks the home feed (v5 rollout)."
        added = {r.target for r in page.table.rows_shown if r.group == "+ lineage now"}
        assert V5 in added
        assert any(r.group == "+ edges now" for r in page.table.rows_shown)
        assert not any(r.group.startswith("-") for r in page.table.rows_shown)
        await pilot.press("slash", *"ranking-model-v5", "enter", "enter")
        await wait_for(pilot, lambda: app.screen.entity_id == V5)


async def test_diff_needs_a_moment_and_an_entity(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(notifications=True) as pilot:
        app.run_command(":diff 3d")  # on the search page: no entity
        await pilot.pause(0.05)
        assert any(":diff WHEN" in str(n.message) for n in app._notifications)
