"""What OpenLineage brings to the explorer, by keyboard at 80x24: a dataset's fields, a
field's column lineage both ways, and a run's status, times, job, parent and error."""

from __future__ import annotations

from collections.abc import Callable

from fake_daemon import DAILY, OL_ERROR, OL_RUN, ORDERS
from test_tui_navigation import open_entity
from test_tui_views import sections_text
from textual.pilot import Pilot
from textual.widgets import Static
from tui_support import wait_for

from tui.app import MdsApp
from tui.screens.entity import EntityScreen
from tui.screens.fields import FieldScreen

SIZE = (80, 24)


def summary(app: MdsApp) -> str:
    return str(app.screen.query_one("#summary", Static).render())


def rows(page: FieldScreen) -> list[tuple[str, str, str]]:
    """(group, field, how) of each row shown."""
    return [(row.group, str(row.cells[0]), str(row.cells[1])) for row in page.table.rows_shown]


async def field_page(pilot: Pilot[None], app: MdsApp, title: str) -> FieldScreen:
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, FieldScreen)
            and app.screen.location.title == title
            and app.screen.table.row_count > 0
        ),
        what=f"the field page of {title}",
    )
    assert isinstance(app.screen, FieldScreen)
    return app.screen


async def test_a_dataset_shows_its_fields_and_a_field_its_lineage_both_ways(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_entity(pilot, app, DAILY)
        await wait_for(pilot, lambda: "Fields (2)" in sections_text(app))
        shown = sections_text(app)
        assert "revenue" in shown and "DECIMAL(12,2)" in shown
        assert "Paid revenue of the day." in shown
        assert "← 1" in shown  # revenue is computed from one input field
        page = app.screen
        assert isinstance(page, EntityScreen)
        fields = [r for r in page.table.rows_shown if r.group.startswith("fields")]
        assert [str(r.cells[0]).split()[1:] for r in fields] == [
            ["day", "DATE"],
            ["revenue", "DECIMAL(12,2)"],
        ]

        await pilot.press("G", "enter")  # the last row: the revenue field
        page = await field_page(pilot, app, "public.daily_orders.revenue")
        assert "DECIMAL(12,2)" in summary(app) and "2 upstream · 0 downstream" in summary(app)
        assert rows(page) == [
            ("⬆ from", "public.orders.amount", "DIRECT/AGGREGATION"),
            ("⬆ from", "public.orders.status", "INDIRECT/FILTER (whole dataset)"),
        ]
        assert page.table.virtual_size.width <= SIZE[0], "the rows need no sideways scroll"

        await pilot.press("g", "enter")  # amount, where revenue comes from
        page = await field_page(pilot, app, "public.orders.amount")
        assert "What the customer paid." in summary(app)
        assert rows(page) == [("⬇ to", "public.daily_orders.revenue", "DIRECT/AGGREGATION")]

        await pilot.press("d")  # the highlighted field's dataset
        await wait_for(
            pilot, lambda: isinstance(app.screen, EntityScreen) and app.screen.entity_id == DAILY
        )
        await pilot.press("left_square_bracket")
        page = await field_page(pilot, app, "public.orders.amount")


async def test_a_field_no_column_lineage_names_says_so(make_app: Callable[..., MdsApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_entity(pilot, app, ORDERS)
        await wait_for(pilot, lambda: "Fields (4)" in sections_text(app))
        page = app.screen
        assert isinstance(page, EntityScreen)
        first = next(i for i, r in enumerate(page.table.rows_shown) if r.group.startswith("fields"))
        page.table.move_cursor(row=first)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, FieldScreen) and "0 upstream" in summary(app),
        )
        assert "no column lineage names this field" in summary(app)


async def test_a_run_shows_its_status_times_job_parent_and_error(
    make_app: Callable[..., MdsApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_entity(pilot, app, OL_RUN)
        await wait_for(pilot, lambda: "Error" in sections_text(app))
        shown = sections_text(app)
        for needle in (
            "failed",
            "2024-12-01 06:00 → 2024-12-01 06:12",
            "(12m 30s)",
            "orders.daily",  # its job
            "0b8bb3c5-55c6-4b8a-9cba-2b6c2b4f7f10",  # its parent run
            OL_ERROR,
            "(python)",
        ):
            assert needle in shown, f"{needle!r} not in the run's section:\n{shown}"
