"""The search box: what is typed goes to the query, except ``?`` and a leading ``:``.

Neither begins a query (``type:model`` has its colon inside), so on the opening page, where
this box has the focus, ``?`` opens the help and ``:`` the command line as on every other
page; ``@`` stays the people-and-teams prefix.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class SearchBox(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?", priority=True, id="search_help"),
        Binding(
            "colon", "command_line", "Command", key_display=":", priority=True, id="search_command"
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line":
            return not self.value  # inside a query the colon is typed
        return True

    def watch_value(self, old: str, new: str) -> None:
        if bool(old) != bool(new):
            self.refresh_bindings()

    async def action_help(self) -> None:
        await self.app.run_action("help")

    async def action_command_line(self) -> None:
        await self.app.run_action("command_line")
