"""Usage: the A/B tests a model or instance is in, or the instances and models of a test."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.format import TITLE_WIDTH, badge, clip, counted, name_of, native_id, status_text
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row


def _cells(item: dict[str, Any]) -> str:
    return ", ".join(name_of(c) for c in item.get("cells", []))


class UsageScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "status / model", "cells", "via")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        assert self.entity_id is not None
        answer = await self.client.usage(self.entity_id, **self.moments)
        self.note_as_of(answer)
        name = self.mds.names.get(self.entity_id) or name_of({"id": self.entity_id})
        self.location.title = name
        rows: list[Row] = []
        for test in answer.get("ab_tests", []):
            via = ", ".join(self.mds.names.get(i) or native_id(i) for i in test.get("via", []))
            rows.append(
                Row(
                    (
                        Text.assemble(badge("AbTest"), " ", name_of(test)),
                        status_text(test.get("status")),
                        _cells(test),
                        via,
                    ),
                    group="A/B tests",
                    target=test.get("id"),
                )
            )
        for inst in answer.get("instances", []):
            rows.append(
                Row(
                    (
                        Text.assemble(badge("ModelInstance"), " ", name_of(inst)),
                        name_of(inst["model"]) if inst.get("model") else "",
                        _cells(inst),
                        "",
                    ),
                    group="instances",
                    target=inst.get("id"),
                )
            )
        for model in answer.get("models", []):
            rows.append(
                Row(
                    (Text.assemble(badge("Model"), " ", name_of(model)), "", "", ""),
                    group="models",
                    target=model.get("id"),
                )
            )
        self.show_rows(rows)
        name = clip(name, TITLE_WIDTH)
        if "ab_tests" in answer:
            summary = f"{name} is in {counted(len(answer['ab_tests']), 'A/B test')}"
        else:
            instances = counted(len(answer.get("instances", [])), "instance")
            summary = (
                f"{name} tests {instances} of {counted(len(answer.get('models', [])), 'model')}"
            )
        self.query_one("#summary", Static).update(
            Text(summary, style="bold") if rows else Text(f"{summary}.", style="dim")
        )
