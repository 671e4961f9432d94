"""Pages whose body is a list of rows: filter with ``/``, Enter acts on the row.

Entity, impact, usage, history, path and quality pages share this, so the keys and the
filter behave identically on all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from tui.export import export_rows
from tui.nav import Location
from tui.screens.base import PageScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.lists import NavTable, Row


class ListScreen(PageScreen):
    """A page with something on top (:meth:`compose_top`) and a :class:`NavTable` below:
    ``/`` filters it, ``s``/``S`` sort it, ``e``/``E`` export it as CSV or JSON."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "type", "")
    AUTO_FOCUS = "#table"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export('csv')", "Export CSV", show=False, id="export_csv"),
        Binding("E", "export('json')", "Export JSON", show=False, id="export_json"),
    ]

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        self._restore_cursor: int | None = None

    def compose_body(self) -> ComposeResult:
        yield from self.compose_top()
        yield FilterBar(id="filter")
        yield NavTable(*self.COLUMNS, id="table")

    def compose_top(self) -> ComposeResult:
        yield from ()

    @property
    def table(self) -> NavTable:
        return self.query_one("#table", NavTable)

    def show_rows(self, rows: Iterable[Row]) -> None:
        """Replace the rows, keeping the cursor (or restoring the saved one once)."""
        table = self.table
        table.set_rows(rows)
        if self._restore_cursor is not None and table.row_count:
            table.move_cursor(row=min(self._restore_cursor, table.row_count - 1), animate=False)
            self._restore_cursor = None

    def pointed_id(self) -> str | None:
        row = self.table.current
        return row.target if row is not None and row.target else self.entity_id

    def touches(self, entity_ids: set[str]) -> bool:
        if super().touches(entity_ids):
            return True
        return any(row.target in entity_ids for row in self.table.rows_shown)

    # -- state ----------------------------------------------------------------------------

    def save_state(self) -> None:
        self.location.state["cursor"] = self.table.cursor_row
        self.location.state["filter"] = self.query_one("#filter", FilterBar).value

    def forget(self) -> None:
        """No rows, no filter, no sort: as a page built anew starts."""
        super().forget()
        self._restore_cursor = None
        bar = self.query_one("#filter", FilterBar)
        bar.value = ""
        bar.display = False
        table = self.table
        table.filter_text = ""
        table.sort_column = None
        table.sort_reversed = False
        table.set_rows([], keep_cursor=False)

    def restore_state(self) -> None:
        self._restore_cursor = self.location.state.get("cursor")
        text = self.location.state.get("filter", "")
        if text:
            bar = self.query_one("#filter", FilterBar)
            bar.value = text
            bar.display = True
            self.table.filter_text = text.strip().lower()

    # -- rows -----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.table.row_at(event.cursor_row)
        if row is not None:
            self.activate(row)

    def activate(self, row: Row) -> None:
        """Enter on a row: open its entity (pages override for other meanings)."""
        if row.target:
            self.mds.open_entity(row.target)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self.table.apply_filter(event.value)

    def on_nav_table_sorted(self, event: NavTable.Sorted) -> None:
        event.stop()
        by = event.table.sorted_by
        self.notify(f"Sorted by {by}" if by else "In the order given", timeout=2)

    def action_export(self, fmt: str) -> None:
        """The list as shown (filtered and sorted), to a file in the working directory."""
        table = self.table
        labels = [label or f"column {i + 1}" for i, label in enumerate(self.COLUMNS)]
        stem = f"mds-{self.location.view}-{self.location.title}"
        try:
            path = export_rows(table.rows_shown, labels, fmt, stem)
        except OSError as exc:  # a read-only directory, a full disk: say so, keep going
            self.notify(f"Export failed: {exc}", severity="error")
            return
        self.notify(f"Exported {len(table.rows_shown)} rows to {path}", timeout=6)

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        event.stop()
        self.table.focus()

    def action_find(self) -> None:
        self.query_one("#filter", FilterBar).open()

    def action_escape(self) -> None:
        bar = self.query_one("#filter", FilterBar)
        if bar.value:
            bar.action_close(clear=True)
            self.table.focus()
        else:
            super().action_escape()
