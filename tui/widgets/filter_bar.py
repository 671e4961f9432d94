"""The ``/`` filter of a list: an input that appears on demand and narrows the list as you type."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Hidden until ``/``; Enter returns to the list, Escape clears and hides it.

    The owning screen listens to ``Input.Changed`` and filters its list, and to
    ``Closed`` to take the focus back to it; the bar only manages its own visibility so
    every list screen behaves the same.
    """

    class Closed(Message):
        """The bar gave up the keys: the list it filters should have them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close(True)", "Clear filter", show=False, id="filter_clear"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="filter…  (enter: back to the list, esc: clear)", **kwargs)
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def action_close(self, clear: bool = True) -> None:
        if clear:
            self.value = ""
        self.display = bool(self.value)
        self.post_message(self.Closed())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_close(clear=False)
