"""ctrl+p: the command palette finds entities (asking the daemon) and commands.

Textual runs every provider's ``search`` per keystroke and cancels stale ones itself, so
a provider only has to ask and yield; daemon failures yield nothing plus one notice.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.errors import describe_failure
from tui.format import badge, highlighted, names
from tui.host import Host


class EntityProvider(Provider):
    """Entities from ``/v1/search``, best first, opened with Enter."""

    @property
    def mds(self) -> Host:
        return cast("Host", self.app)

    async def search(self, query: str) -> Hits:
        if len(query.strip()) < 2:
            return
        try:
            answer = await self.mds.client.search(query, limit=10, **self.mds.moments)
        except Exception as exc:  # a palette must not die with the daemon
            self.mds.notify_once(
                describe_failure(exc, self.mds.said_moments).message, severity="warning"
            )
            return
        for rank, result in enumerate(answer.get("results", [])):
            entity_id = str(result.get("id"))
            name = str(result.get("name") or entity_id)
            self.mds.names[entity_id] = name
            display = Text.assemble(badge(result.get("entity_type")), " ")
            display.append_text(highlighted((result.get("highlights") or {}).get("name"), name))
            owners = names(result.get("owners") or [])
            yield Hit(
                1.0 - rank * 0.01,
                display,
                partial(self.mds.open_entity, entity_id),
                text=name,
                help=f"{result.get('entity_type', '')}{'  ·  ' + owners if owners else ''}",
            )


class CommandProvider(Provider):
    """The explorer's own commands, fuzzy-matched."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = cast("Host", self.app)
        run = app.run_command
        return [
            ("Models", partial(run, "models"), "list models"),
            ("Model instances", partial(run, "instances"), "list model instances"),
            ("Datasets", partial(run, "datasets"), "list datasets"),
            ("Features", partial(run, "features"), "list features"),
            ("Pipelines", partial(run, "pipelines"), "list pipelines"),
            ("A/B tests", partial(run, "tests"), "list A/B tests"),
            ("People and teams", partial(run, "owners"), "search users and teams"),
            ("Quality report", partial(run, "quality"), "missing owners, stale, stubs, unused"),
            ("History (global)", app.open_global_history, "latest transactions of the whole graph"),
            ("As of…", app.action_as_of_prompt, "time travel to a moment"),
            ("Back to live", partial(app.set_as_of, None), "leave time travel"),
            ("Reload", app.action_reload, "fetch the current page again"),
            ("Help", app.action_help, "keys and commands"),
            ("Quit", app.exit, "leave mds-tui"),
        ]

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score * 0.5, matcher.highlight(name), command, text=name, help=help_text)
