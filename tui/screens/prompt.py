"""One-line prompts: the ``:`` command line and the ``@`` as-of moment.

Both are modals that return the typed text; the app decides what it means, so the
prompts stay dumb and the meaning lives in one place (:mod:`tui.commands`, :mod:`tui.asof`).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from tui.commands import completions


class PromptScreen(ModalScreen[str | None]):
    """A single input docked at the bottom; Enter returns its text, Escape returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False, id="prompt_cancel"),
    ]
    PREFIX = ">"
    HELP = ""

    def __init__(self, value: str = "") -> None:
        super().__init__()
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            if self.HELP:
                yield Static(self.HELP, id="prompt-help")
            yield Input(
                value=self._value,
                placeholder=self.PREFIX,
                suggester=self.suggester(),
                id="prompt-input",
            )

    def suggester(self) -> SuggestFromList | None:
        return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommandLine(PromptScreen):
    PREFIX = ":command   (models, datasets, open ID, asof 1h, path ID, quality, q)"

    def suggester(self) -> SuggestFromList:
        return SuggestFromList(completions(), case_sensitive=False)


class AsOfPrompt(PromptScreen):
    PREFIX = "as of: 2025-01-01 · 3d · 2025-01-01T12:00:00Z · known 1h · tx:123 · now"
    HELP = (
        "Time travel. WHEN is valid time: the graph as it was then, reaching back before the "
        "daemon started. `known WHEN`: as mds knew it then (system time); `WHEN known WHEN` "
        "both; tx:N as mds knew it at that transaction. Empty or `now` goes back to live."
    )
