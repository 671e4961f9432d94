"""The search page: results as you type, Enter opens, filters and people mode."""

from __future__ import annotations

from collections.abc import Callable

from fake_daemon import CHURN, RANKING, FakeDaemon
from textual.widgets import Input
from tui_support import wait_for

from tui.app import MdsApp
from tui.screens.entity import EntityScreen
from tui.screens.help import HelpScreen
from tui.screens.prompt import CommandLine
from tui.screens.search import SearchScreen
from tui.widgets.keybar import KeyBar
from tui.widgets.lists import ResultList


async def test_opens_on_search_with_the_input_focused(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        assert isinstance(app.focused, Input) and app.focused.id == "query"


async def test_typing_shows_results_and_enter_opens_the_top_one(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    app = make_app(search_debounce=0.5)  # longer than the pilot's keystrokes take
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"ranking-m")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await wait_for(pilot, lambda: screen.shown_query == "ranking-m", what="search results")
        assert screen.results[0]["id"] == RANKING
        prompt = screen.query_one(ResultList).get_option_at_index(0).prompt
        assert "ranking-model" in str(prompt) and "Alice Andersen" in str(prompt)
        # debounced: one search for the whole burst of keystrokes, not one per key
        assert sum("/v1/search" in r for r in fake.graph.requests) <= 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.entity)
        assert app.screen.entity_id == RANKING


async def test_arrows_move_and_enter_opens_the_highlighted_result(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press(*"ranking")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await wait_for(pilot, lambda: screen.shown_query == "ranking" and len(screen.results) > 2)
        second = screen.results[1]["id"]
        await pilot.press("down", "down", "up", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EntityScreen))
        assert app.screen.entity_id == second


async def test_enter_before_the_results_arrive_opens_the_top_result(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app(search_debounce=0.5)
    async with app.run_test() as pilot:
        await pilot.press(*"churn-model", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EntityScreen))
        assert app.screen.entity_id == CHURN


async def test_filters_pass_through_and_at_searches_people(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        screen.query_one("#query", Input).value = "type:model owner:bob"
        await wait_for(pilot, lambda: [r["id"] for r in screen.results] == [CHURN])
        await wait_for(pilot, lambda: "1 result  ·" in str(screen.query_one("#hint").render()))
        await pilot.press("ctrl+u", *"@ali")
        await wait_for(
            pilot, lambda: screen.results and screen.results[0]["name"] == "Alice Andersen"
        )
        assert screen.results[0]["entity_type"] == "User"
        await wait_for(
            pilot, lambda: "2 people and teams  ·" in str(screen.query_one("#hint").render())
        )
        await pilot.press(*"ce")  # @alice: Alice alone
        await wait_for(
            pilot, lambda: "1 person or team  ·" in str(screen.query_one("#hint").render())
        )


async def test_escape_clears_the_query(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await pilot.press(*"churn")
        await wait_for(pilot, lambda: screen.results)
        await pilot.press("escape")
        hint = screen.query_one("#hint")
        # back to the first screen: what changed last, not the search's results
        await wait_for(
            pilot, lambda: screen.shown_query == "" and "Recently changed" in str(hint.render())
        )
        assert screen.query_one("#query", Input).value == ""


async def test_an_empty_query_lists_recently_visited_entities(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        for entity_id in (CHURN, RANKING):
            app.open_entity(entity_id)
            await wait_for(
                pilot,
                lambda e=entity_id: (
                    isinstance(app.screen, EntityScreen)
                    and app.screen.entity_id == e
                    and app.screen.entity
                ),
            )
        app.run_command(":search")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.shown_query == ""
        )
        assert [r["id"] for r in app.screen.results] == [RANKING, CHURN]
        assert app.screen.results[0]["name"] == "ranking-model"
        await pilot.press("down", "enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.entity_id == CHURN
        )


def key_bar(app: MdsApp) -> str:
    shown = app.screen.query_one(KeyBar)._shown
    return shown.plain if shown is not None else ""


async def test_help_and_the_command_line_open_from_the_search_box(
    make_app: Callable[..., MdsApp],
) -> None:
    """``?`` and a leading ``:`` are what they are on every page; in a query ``:`` is typed,
    and the key bar offers only the keys that act (``@`` and ``/`` are typed here)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await wait_for(pilot, lambda: "? Help" in key_bar(app))
        assert ": Command" in key_bar(app)
        assert "@" not in key_bar(app) and "/ Find" not in key_bar(app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        ids = {entry.binding_id for entry in app.screen.entries}
        assert "search_help" in ids and "as_of" not in ids and "find" not in ids
        await pilot.press("escape", "colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLine))
        await pilot.press("escape", *"type:model")
        await wait_for(pilot, lambda: screen.shown_query == "type:model")
        assert screen.query_one("#query", Input).value == "type:model"
        assert ": Command" not in key_bar(app)


async def test_no_results_says_for_which_moment(make_app: Callable[..., MdsApp]) -> None:
    app = make_app(as_of="tx:1")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await pilot.press(*"zzzz")
        await wait_for(pilot, lambda: screen.shown_query == "zzzz")
        assert "No results for 'zzzz' as of tx:1." in str(screen.query_one("#hint").render())


async def test_the_first_screen_says_what_the_graph_holds_and_lists_what_changed(
    make_app: Callable[..., MdsApp],
) -> None:
    """Before anything is typed or visited: the kinds held, the dead letters, and the
    entities the latest transactions touched, which Enter opens."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        hint = screen.query_one("#hint")
        await wait_for(pilot, lambda: "Recently changed" in str(hint.render()))
        shown = str(hint.render())
        assert "entities: " in shown and "MODEL" in shown and "INST" in shown
        assert "2 dead letters (:status)" in shown
        assert screen.results and all(r["id"].startswith("aip://") for r in screen.results)
        first = screen.results[0]["id"]
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.entity_id == first
        )


async def test_the_first_screens_counts_follow_the_status_and_keep_the_highlight(
    make_app: Callable[..., MdsApp], fake: FakeDaemon
) -> None:
    """A backfill fills the graph under the first screen: its counts follow each status
    poll, and the list, where the user is in it, stays."""
    app = make_app(live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        hint = screen.query_one("#hint")
        await wait_for(pilot, lambda: "2 dead letters" in str(hint.render()))
        listing = screen.query_one(ResultList)
        await pilot.press("down", "down")
        highlighted = listing.highlighted
        fake.letters.append({**fake.letters[0], "id": 99})
        await wait_for(pilot, lambda: "3 dead letters" in str(hint.render()), what="new count")
        assert "Recently changed" in str(hint.render())
        assert listing.highlighted == highlighted


async def test_me_counts_my_assets_on_the_first_screen_and_mine_lists_them(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app(me="bob")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        hint = screen.query_one("#hint")
        await wait_for(pilot, lambda: "yours: " in str(hint.render()))
        app.run_command(":mine")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, SearchScreen)
                and app.screen.shown_query == "owner:bob"
                and CHURN in [r["id"] for r in app.screen.results]
            ),
        )
        shown = str(hint.render())
        count = int(shown.split("yours: ", 1)[1].split()[0])
        assert count == len(app.screen.results)


async def test_mine_without_me_says_how_to_say_who_you_are(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(notifications=True) as pilot:
        app.run_command(":mine")
        await pilot.pause(0.05)
        assert any("--me OWNER" in str(n.message) for n in app._notifications)
