"""``:bookmarks``: the entities marked with ``b``, to open again; ``b`` on a row unmarks it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mds.wire.model import TYPE_OF_KIND
from tui.format import badge, kind_of, name_of
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row


class BookmarksScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("entity", "id")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        self.location.title = "bookmarks"
        items = self.mds.bookmarks.items
        rows = [
            Row(
                (
                    Text.assemble(
                        badge(str(TYPE_OF_KIND.get(kind_of(b["id"]), ""))), " ", name_of(b)
                    ),
                    b["id"],
                ),
                target=b["id"],
            )
            for b in items
        ]
        self.show_rows(rows)
        summary = Text(f"{len(items)} bookmarked", style="bold")
        summary.append("   enter opens  ·  b on a row or a page marks or unmarks it", style="dim")
        self.query_one("#summary", Static).update(summary)

    def bookmarks_changed(self) -> None:
        self.reload(quiet=True)
