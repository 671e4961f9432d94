"""Quality: the daemon's report of what is missing, stale or dangling in the graph."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.format import badge, name_of
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row

CATEGORIES = (
    ("missing_owners", "missing owners"),
    ("missing_descriptions", "missing descriptions"),
    ("stale", "stale"),
    ("unresolved_stubs", "unresolved stubs"),
    ("dangling_references", "dangling references"),
    ("unused", "unused"),
)


class QualityScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("entity", "type")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        answer = await self.client.quality(**self.moments)
        self.note_as_of(answer)
        self.location.title = "report"
        rows = []
        for key, label in CATEGORIES:
            items = answer.get(key, [])
            for item in items:
                rows.append(
                    Row(
                        (
                            Text.assemble(badge(item.get("entity_type")), " ", name_of(item)),
                            str(item.get("entity_type", "")),
                        ),
                        group=f"{label} ({len(items)})",
                        target=item.get("id"),
                    )
                )
        self.show_rows(rows)
        summary = Text("Quality  ", style="bold")
        for key, value in (answer.get("summary") or {}).items():
            summary.append(f"{key.replace('_', ' ')} ", style="dim")
            summary.append(f"{value}   ", style="bold")
        self.query_one("#summary", Static).update(summary)
