"""Impact: everything downstream of an entity, grouped by type, and whom to tell."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.format import TITLE_WIDTH, badge, clip, name_of, names, status_text
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row


class ImpactScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("entity", "stage", "owners", "depth")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        assert self.entity_id is not None
        answer = await self.client.impact(self.entity_id, **self.moments)
        self.note_as_of(answer)
        name = self.mds.names.get(self.entity_id) or name_of({"id": self.entity_id})
        self.location.title = name
        rows: list[Row] = []
        for group in answer.get("groups", []):
            count = group.get("count", len(group.get("entities", [])))
            stages = ", ".join(f"{n} {stage}" for stage, n in (group.get("stages") or {}).items())
            label = f"{group.get('entity_type')} ({count}{': ' + stages if stages else ''})"
            for entity in group.get("entities", []):
                rows.append(
                    Row(
                        (
                            Text.assemble(badge(group.get("entity_type")), " ", name_of(entity)),
                            status_text(entity.get("stage")) if entity.get("stage") else "",
                            clip(", ".join(entity.get("owners") or []), 30),
                            str(entity.get("depth", "")),
                        ),
                        group=label,
                        target=entity.get("id"),
                    )
                )
        notify = answer.get("notify") or {}
        for kind, entity_type in (("owners", "User"), ("teams", "Team")):
            for person in notify.get(kind, []):
                rows.append(
                    Row(
                        (Text.assemble(badge(entity_type), " ", name_of(person)), "", "", ""),
                        group=f"notify {kind}",
                        target=person.get("id"),
                    )
                )
        self.show_rows(rows)
        summary = Text.assemble(
            ("Impact of ", ""),
            (clip(name, TITLE_WIDTH), "bold"),
            f": {answer.get('total', 0)} downstream entities",
        )
        owners, teams = notify.get("owners", []), notify.get("teams", [])
        if owners or teams:
            summary.append("\nNotify  ", style="bold")
            summary.append(names(owners, limit=8), style="green")
            if teams:
                summary.append(f"  ·  teams {names(teams, limit=5)}", style="green")
        self.query_one("#summary", Static).update(summary)
