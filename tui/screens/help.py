"""``?``: the keys that work right now, read from the live bindings (so a user keymap shows).

Built from the page's ``active_bindings`` at the moment ``?`` is pressed, which already
reflects focus, ``check_action`` and the keymap; the ids are listed because they are what
a keymap file rebinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.commands import COMMANDS
from tui.keymap import default_keymap_path, live_bindings


@dataclass
class KeyHelp:
    keys: list[str]
    description: str
    binding_id: str


def live_keys(app: App[Any], screen: Screen[Any]) -> list[KeyHelp]:
    """The explorer's own bindings active on ``screen``, one entry per binding id (keys
    merged). Every binding of the explorer has an id (a keymap rebinds by it); Textual's
    widgets bring bindings of their own (``super+c``, page left) that the explorer's keys
    already cover or that mean nothing here, and those have none."""
    entries: dict[str, KeyHelp] = {}
    for active in live_bindings(screen):
        binding = active.binding
        if binding.system or not binding.id:
            continue
        entry = entries.setdefault(
            binding.id, KeyHelp([], binding.description or binding.action, binding.id)
        )
        display = app.get_key_display(binding)
        if display not in entry.keys:
            entry.keys.append(display)
    return sorted(entries.values(), key=lambda e: e.binding_id)


def help_table(entries: list[KeyHelp]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    table.add_column("id (keymap)", style="dim")
    for entry in entries:
        table.add_row(" ".join(entry.keys), entry.description, entry.binding_id)
    return table


def commands_table() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for spec in COMMANDS:
        table.add_row(spec.usage, spec.help)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help_close"),
        Binding("j", "scroll_down", "Down", show=False, id="help_down"),
        Binding("k", "scroll_up", "Up", show=False, id="help_up"),
        Binding("g,home", "scroll_home", "Top", show=False, id="help_top"),
        Binding("G,end", "scroll_end", "Bottom", show=False, id="help_bottom"),
        Binding("ctrl+f,pagedown,space", "page_down", "Page down", show=False, id="help_page_down"),
        Binding("ctrl+b,pageup", "page_up", "Page up", show=False, id="help_page_up"),
    ]

    def __init__(self, entries: list[KeyHelp]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as dialog:
            dialog.border_title = "Keys (live) and commands"
            dialog.border_subtitle = "esc close"
            yield Static(help_table(self.entries))
            yield Static(Text("\nCommand line  (:)", style="bold underline"))
            yield Static(commands_table())
            yield Static(
                Text(
                    f"\nRebind keys in {default_keymap_path()} (or --keymap PATH):\n"
                    '  [keys]\n  back = "backspace"\n  lineage = ["L", "ctrl+l"]',
                    style="dim",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_up()

    def action_scroll_home(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_end(animate=False)

    def action_page_down(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.query_one("#dialog", VerticalScroll).scroll_page_up(animate=False)
