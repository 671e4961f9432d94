"""The key hints at the bottom: the shown bindings of the focused context, in one line.

Textual's ``Footer`` rebuilds one widget per key on every focus change, which costs more
than the rest of a page switch; this draws the same information as a single ``Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen

from tui.keymap import live_bindings
from tui.widgets.chrome import OneLine


class KeyBar(OneLine):
    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._draw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.call_after_refresh(self._draw)

    def on_resize(self) -> None:
        self.call_after_refresh(self._draw)

    def _draw(self) -> None:
        if not self.is_attached:
            return
        text = Text(no_wrap=True)
        seen: set[str] = set()
        room = self.size.width or self.app.size.width
        # help first: it lists everything else, so it must survive a narrow terminal
        for active in sorted(live_bindings(self.screen), key=lambda a: a.binding.action != "help"):
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            style = "" if active.enabled else "dim"
            key = Text(f" {self.app.get_key_display(binding)} ", style=f"bold {style}".strip())
            said = Text(f"{binding.description} ", style=style or "dim")
            if text.cell_len + key.cell_len + said.cell_len > room - 1:
                text.append("…", style="dim")  # whole entries only: ? lists the rest
                break
            text.append_text(key)
            text.append_text(said)
        self.show(text)
