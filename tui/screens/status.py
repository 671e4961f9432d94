"""The daemon at a glance (``:status``): what it holds and is doing, each source's health,
and the dead letters, which Enter (one) or ``R`` (all) sends through intake again.

The status bar only counts dead letters; this is where one reads why each was refused,
fixes its cause (a source down, a config), and redrives it without the CLI.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mds.wire import JSON
from tui.format import ago, clip, counted, fmt_time
from tui.screens.listing import ListScreen
from tui.widgets.chrome import ReplicaLag
from tui.widgets.lists import Row

#: the dead letters listed (the daemon keeps them all; ``mds dead-letters`` pages)
DEAD_LETTERS_SHOWN = 200
#: a source's state (its circuit breaker's) in words, and its colour
SOURCE_STATES = {
    "closed": ("ok", "green"),
    "half_open": ("trying again", "yellow"),
    "open": ("down: paused", "bold red"),
}


def source_rows(status: JSON) -> list[Row]:
    """One row per source: its state, requests and errors, and when it was last in step."""
    rows = []
    for name, source in sorted((status.get("sources") or {}).items()):
        state, style = SOURCE_STATES.get(str(source.get("state")), (str(source.get("state")), ""))
        note = Text(f"{source.get('requests', 0)} requests, {source.get('errors', 0)} errors")
        if source.get("in_step_at"):
            note.append(f"  in step {ago(source['in_step_at'])}", style="dim")
        rows.append(
            Row(
                (Text(name, style="bold"), Text(state, style=style), note),
                group="sources",
            )
        )
    return rows


def letter_rows(letters: list[JSON]) -> list[Row]:
    """One row per dead letter: when, where from, why; its id is what Enter redrives."""
    rows = []
    for letter in letters:
        redriven = letter.get("redriven_at")
        reason = Text(clip(letter.get("reason"), 90), style="dim" if redriven else "red")
        if redriven:
            reason.append(f"  (redriven {fmt_time(redriven)})", style="dim")
        rows.append(
            Row(
                (fmt_time(letter.get("received_at")), str(letter.get("origin", "")), reason),
                group=f"dead letters ({len(letters)})",
                data=int(letter["id"]),
                search=f"{letter.get('origin', '')} {letter.get('reason', '')} {letter.get('raw', '')}",
            )
        )
    return rows


class StatusScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("when / source", "origin / state", "why")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "redrive_all", "Redrive all", id="redrive_all"),
    ]

    #: on a replica (``mdsd replica``): its primary keeps the dead letters and redrives them
    replica = False

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "redrive_all" and self.replica:
            return False
        return super().check_action(action, parameters)

    async def load(self) -> None:
        status = await self.client.status()
        letters = []
        self.replica = status.get("replica") is not None
        if not self.replica:
            letters = (await self.client.dead_letters(limit=DEAD_LETTERS_SHOWN))["dead_letters"]
        self.refresh_bindings()
        self.location.title = "daemon"
        self.show_rows(source_rows(status) + letter_rows(letters))
        self.query_one("#summary", Static).update(summary(status, letters))

    def activate(self, row: Row) -> None:
        if isinstance(row.data, int):
            self.redrive([row.data])

    def action_redrive_all(self) -> None:
        self.redrive(None)

    def redrive(self, ids: list[int] | None) -> None:
        self.run_worker(self._redrive(ids), group="redrive", exclusive=True, exit_on_error=False)

    async def _redrive(self, ids: list[int] | None) -> None:
        try:
            answer = await self.client.redrive(ids)
        except Exception as exc:  # the daemon says why (a read-only token: 403)
            self.notify(f"Redrive failed: {exc}", severity="error")
            return
        said = f"Redriven {answer['redriven']}"
        if answer.get("rejected"):
            said += f", {answer['rejected']} refused again (still dead letters)"
        if answer.get("missing"):
            said += f"; {len(answer['missing'])} no longer waiting"
        self.notify(said, severity="warning" if answer.get("rejected") else "information")
        self.reload(quiet=True)


def summary(status: JSON, letters: list[Any]) -> Text:
    waiting = sum(1 for letter in letters if not letter.get("redriven_at"))
    text = Text.assemble(
        ("mdsd ", "bold"),
        str(status.get("version", "")),
        f"  up since {fmt_time(status.get('started_at'))}",
        f"  ·  last tx {status.get('last_tx')} ({ago(status.get('last_tx_at'))})",
    )
    text.append(
        f"\n{counted(status.get('entities', 0), 'entity', 'entities')}  ·  "
        f"{counted(status.get('stubs', 0), 'stub')}  ·  "
    )
    lag = status.get("replica")
    if lag is not None:
        return text.append_text(replica_summary(lag))
    text.append(f"{status.get('pending', 0):,} pending  ·  ")
    style = "bold red" if waiting else "green"
    text.append(f"{counted(waiting, 'dead letter')} waiting", style=style)
    text.append("\nenter: redrive the dead letter  ·  R: redrive all  ·  /: filter", style="dim")
    return text


def replica_summary(lag: JSON) -> Text:
    """A replica's place behind its primary, where a primary shows its queue."""
    said, style = ReplicaLag.of(lag).describe()
    text = Text.assemble((said, style), f"  ·  applied tx {lag.get('applied_tx')}")
    if lag.get("behind_messages"):
        text.append(f" ({lag['behind_messages']:,} to apply)", style="yellow")
    if lag.get("last_error"):
        text.append(f"\n{lag['last_error']}", style="red")
    text.append(
        f"\nread-only: writes, dead letters and redrive are the primary's ({lag.get('primary')})",
        style="dim",
    )
    return text
