"""The lineage graph page: reached with ``v``, moved through with the arrows, folded,
re-rooted, and opened; what it draws is the daemon's lineage, turned to run with the data."""

from __future__ import annotations

from collections.abc import Callable

from fake_daemon import PIPE, PLAYBACK_V2, RANKING, RUN2, TEST, V5, WATCH
from test_tui_navigation import open_entity
from textual.pilot import Pilot
from textual.widgets import Static
from tui_support import wait_for

from tui.app import MdsApp
from tui.screens.entity import EntityScreen
from tui.screens.graph import GraphScreen


def graph_page(app: MdsApp) -> GraphScreen | None:
    page = app.screen
    loaded = isinstance(page, GraphScreen) and page.view.drawing.places
    return page if loaded and isinstance(page, GraphScreen) else None


async def open_graph(pilot: Pilot[None], app: MdsApp, entity_id: str) -> GraphScreen:
    """From the entity's page, ``v``, until the graph is drawn."""
    await open_entity(pilot, app, entity_id)
    await pilot.press("v")
    await wait_for(pilot, lambda: graph_page(app) is not None, what="the graph")
    page = graph_page(app)
    assert page is not None
    return page


def screen_text(app: MdsApp) -> str:
    page = app.screen
    assert isinstance(page, GraphScreen)
    view = page.view
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


async def test_v_draws_upstream_left_and_downstream_right(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        page = await open_graph(pilot, app, V5)
        places = page.view.drawing.places
        assert {V5, RUN2, PIPE, PLAYBACK_V2, WATCH, TEST} <= set(places)
        # data flows left to right: the run before the instance, the A/B test after it
        assert places[PIPE].col < places[RUN2].col < places[V5].col < places[TEST].col
        assert page.view.selected == V5
        text = screen_text(app)
        assert "▶" in text and "ranking-model-v5" in text
        summary = str(page.query_one("#summary", Static).render())
        assert "both" in summary and "depth 2" in summary and "inferred" in summary


async def test_arrows_move_along_the_edges_and_enter_opens(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_graph(pilot, app, V5)
        await pilot.press("left")
        drawing = page.view.drawing
        upstream = {e.upstream for e in drawing.edges if e.downstream == V5}
        assert page.view.selected in upstream
        await pilot.press("home", "right")
        downstream = {e.downstream for e in drawing.edges if e.upstream == V5}
        assert page.view.selected in downstream
        chosen = page.view.selected
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, EntityScreen) and app.screen.entity_id == chosen,
        )


async def test_depth_direction_fold_and_focus(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_graph(pilot, app, V5)
        await pilot.press("tab")  # upstream only
        await wait_for(
            pilot, lambda: page.direction == "upstream" and TEST not in page.view.drawing.places
        )
        await pilot.press("minus")
        await wait_for(pilot, lambda: page.depth == 1 and PIPE not in page.view.drawing.places)
        await pilot.press("plus")
        await wait_for(pilot, lambda: PIPE in page.view.drawing.places)
        page.view.selected = RUN2
        await pilot.press("c")
        await wait_for(pilot, lambda: PIPE not in page.view.drawing.places)
        assert "+" in page.view.labels[RUN2].plain
        await pilot.press("c")
        await wait_for(pilot, lambda: PIPE in page.view.drawing.places)
        page.view.selected = RUN2
        await pilot.press("f")
        await wait_for(
            pilot,
            lambda: (p := graph_page(app)) is not None and p.entity_id == RUN2,
            what="the graph re-rooted on the run",
        )


async def test_a_model_graph_fits_80x24(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        page = await open_graph(pilot, app, RANKING)
        await pilot.press("right", "right")
        place = page.view.place(page.view.selected)
        assert place is not None
        # the selection is scrolled into view
        x, y = page.view.scroll_offset
        assert y <= place.row < y + page.view.size.height
        assert x <= place.col < x + page.view.size.width


async def test_y_copies_the_selected_node(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_graph(pilot, app, V5)
        await pilot.press("y")
        assert app.clipboard == V5
        await pilot.press("left", "y")
        assert app.clipboard == page.view.selected != V5
