"""List-like widgets with the same vim-style keys everywhere (j k g G ctrl+f ctrl+b).

The keys share binding ids across widget classes, so one keymap entry rebinds them in
every list, table and tree at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, OptionList, Tree

VIM_KEYS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False, id="down"),
    Binding("k", "cursor_up", "Up", show=False, id="up"),
    Binding("g", "go_top", "Top", show=False, id="top"),
    Binding("G", "go_bottom", "Bottom", show=False, id="bottom"),
    Binding("ctrl+f", "page_down", "Page down", show=False, id="page_down"),
    Binding("ctrl+b", "page_up", "Page up", show=False, id="page_up"),
]


@dataclass
class Row:
    """One row of a :class:`NavTable`: its cells, its group and what Enter acts on."""

    cells: tuple[RenderableType, ...]
    group: str = ""
    #: the entity Enter opens, if any
    target: str | None = None
    data: Any = None
    #: text the filter matches (defaults to the plain text of group and cells)
    search: str = field(default="")

    def haystack(self) -> str:
        if not self.search:
            parts = [self.group, *(c.plain if isinstance(c, Text) else str(c) for c in self.cells)]
            self.search = " ".join(parts).lower()
        return self.search


def sort_key(cell: RenderableType) -> tuple[int, float, str]:
    """How a cell sorts: numbers by value, before words; words by their text, case aside;
    an empty cell last."""
    text = (cell.plain if isinstance(cell, Text) else str(cell)).strip()
    if not text or text in ("—", "-"):
        return (2, 0.0, "")
    try:
        return (0, float(text.replace(",", "")), "")
    except ValueError:
        return (1, 0.0, text.casefold())


class NavTable(DataTable[RenderableType]):
    """A row-cursor table of :class:`Row` with an optional group column, a text filter and
    a sort by any column (``s`` the next column, ``S`` the other way), within each group.

    The group label is shown on the first visible row of each group only, which reads as
    a grouped list without the unselectable header rows a DataTable cannot have.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *VIM_KEYS,
        Binding("s", "sort_next", "Sort", show=False, id="sort"),
        Binding("S", "sort_reverse", "Sort reversed", show=False, id="sort_reverse"),
    ]

    def __init__(self, *columns: str, grouped: bool = True, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._columns = columns
        self._grouped = grouped
        self._rows: list[Row] = []
        self._visible: list[Row] = []
        self.filter_text = ""
        #: the column rows are sorted by within their group (None: as given), and which way
        self.sort_column: int | None = None
        self.sort_reversed = False

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        if self._grouped:
            self.add_column("", key="group")
        for index, label in enumerate(self._columns):
            self.add_column(label, key=f"c{index}")

    @property
    def rows_shown(self) -> Sequence[Row]:
        return self._visible

    @property
    def current(self) -> Row | None:
        if not self._visible or self.cursor_row < 0 or self.cursor_row >= len(self._visible):
            return None
        return self._visible[self.cursor_row]

    def row_at(self, index: int) -> Row | None:
        return self._visible[index] if 0 <= index < len(self._visible) else None

    def set_rows(self, rows: Iterable[Row], *, keep_cursor: bool = True) -> None:
        """Show ``rows``. With ``keep_cursor`` the cursor stays on the row it was on (same
        group and target) wherever the new rows put it, else at the same position: a
        reload that adds or drops rows above it does not move what is highlighted."""
        highlighted = self.current if keep_cursor else None
        self._rows = list(rows)
        self._render_rows(self.cursor_row if keep_cursor else 0, highlighted)

    def apply_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_rows(0)

    def action_sort_next(self) -> None:
        """Sort by the next column (after the last, the order given), keeping the row."""
        column = -1 if self.sort_column is None else self.sort_column
        self.sort_column = column + 1 if column + 1 < len(self._columns) else None
        self.sort_reversed = False
        self._resort()

    def action_sort_reverse(self) -> None:
        if self.sort_column is None:
            self.sort_column = 0
        else:
            self.sort_reversed = not self.sort_reversed
        self._resort()

    def _resort(self) -> None:
        self._render_rows(self.cursor_row, self.current)
        self.post_message(self.Sorted(self))

    class Sorted(Message):
        """The sort changed: the screen says by what."""

        def __init__(self, table: NavTable) -> None:
            super().__init__()
            self.table = table

    @property
    def sorted_by(self) -> str | None:
        """``name ↑``: the column rows are sorted by, and which way; None as given."""
        if self.sort_column is None:
            return None
        label = self._columns[self.sort_column] or f"column {self.sort_column + 1}"
        return f"{label} {'↓' if self.sort_reversed else '↑'}"

    def _sorted(self, rows: list[Row]) -> list[Row]:
        """``rows`` by the sort column within each group, the groups in their order."""
        column = self.sort_column
        if column is None:
            return rows
        groups: dict[str, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.group, []).append(row)
        ordered: list[Row] = []
        for members in groups.values():
            keyed = [r for r in members if column < len(r.cells)]
            keyed.sort(key=lambda r: sort_key(r.cells[column]), reverse=self.sort_reversed)
            ordered += keyed + [r for r in members if column >= len(r.cells)]
        return ordered

    def _render_rows(self, cursor: int, highlighted: Row | None = None) -> None:
        words = self.filter_text.split()
        shown = [r for r in self._rows if all(w in r.haystack() for w in words)]
        self._visible = self._sorted(shown)
        if highlighted is not None:
            same = (highlighted.group, highlighted.target)
            cursor = next(
                (i for i, r in enumerate(self._visible) if (r.group, r.target) == same), cursor
            )
        # the columns too: a column only ever widens to its rows, so narrower rows (cut
        # to a narrower terminal) would keep the width of the widest ever shown
        self.clear(columns=True)
        self._add_columns()
        previous_group: str | None = None
        for index, row in enumerate(self._visible):
            cells: tuple[RenderableType, ...] = row.cells
            if self._grouped:
                label = row.group if row.group != previous_group else ""
                previous_group = row.group
                cells = (Text(label, style="bold"), *cells)
            self.add_row(*cells, key=str(index))
        if self._visible:
            self.move_cursor(row=max(0, min(cursor, len(self._visible) - 1)), animate=False)

    def action_go_top(self) -> None:
        self.move_cursor(row=0)

    def action_go_bottom(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))


class ResultList(OptionList):
    """The search results; highlight moves with j/k as well as the arrows."""

    BINDINGS: ClassVar[list[BindingType]] = VIM_KEYS

    def action_go_top(self) -> None:
        self.action_first()

    def action_go_bottom(self) -> None:
        self.action_last()


class NavTree(Tree[dict[str, Any]]):
    """A tree with vim keys; right/left expand and collapse, Enter is left to the screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *VIM_KEYS,
        Binding("right", "expand", "Expand", show=False, id="expand"),
        Binding("left", "collapse", "Collapse", show=False, id="collapse"),
    ]

    def action_go_top(self) -> None:
        self.cursor_line = 0

    def action_go_bottom(self) -> None:
        self.cursor_line = max(0, self.last_line)

    def action_page_down(self) -> None:
        self.cursor_line = min(self.last_line, self.cursor_line + max(1, self.size.height - 1))

    def action_page_up(self) -> None:
        self.cursor_line = max(0, self.cursor_line - max(1, self.size.height - 1))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)
