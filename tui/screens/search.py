"""The search page: one input, results as you type, Enter opens.

Typing reloads the page after a short debounce; the exclusive load worker cancels the
request in flight, so only the last query's answer is ever drawn. ``@`` at the start of
the query (or ctrl+t) searches people and teams instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mds.client import ClientError
from mds.wire.model import TYPE_OF_KIND
from tui import home
from tui.commands import owner_filter
from tui.format import badge, clip, highlighted, kind_of, names, tags_text
from tui.screens.base import PageScreen
from tui.widgets.lists import ResultList
from tui.widgets.search_box import SearchBox

#: what the empty box says; short enough for 80 columns (the hint below has the rest)
PLACEHOLDER = "search…  type:model owner:alice tag:k=v  ·  @name: people and teams"
HINT = Text.assemble(
    ("Type to search. ", "bold"),
    "Filters: ",
    ("type:model owner:alice tag:team=personalization", "italic cyan"),
    "  ·  ",
    ("@", "bold"),
    " people and teams (ctrl+t)  ·  ",
    ("↑↓", "bold"),
    " move  ",
    ("enter", "bold"),
    " open  ",
    ("tab", "bold"),
    " to the list  ",
    (":", "bold"),
    " commands  ",
    ("?", "bold"),
    " help",
)
RESULT_LIMIT = 30
#: transactions the first screen reads for what changed last
HOME_CHANGES = 12
#: the most of the user's own assets the first screen counts (``:mine`` lists them)
MINE_COUNTED = 500
#: how soon the first screen asks again when the daemon could not say (starting, away)
HOME_RETRY_SECONDS = 2.0


def result_prompt(result: dict[str, Any]) -> Text:
    """Two lines per result: badge and highlighted name; owners, tags, description."""
    name = str(result.get("name") or result.get("id"))
    text = Text.assemble(badge(result.get("entity_type")), " ")
    text.append_text(highlighted((result.get("highlights") or {}).get("name"), name))
    text.append(f"  {result.get('entity_type', '')}", style="dim")
    details = Text("        ")
    owners = result.get("owners") or []
    if owners:
        details.append(f"{names(owners)}  ", style="green")
    tags = result.get("tags") or []
    if tags:
        details.append_text(tags_text(tags, limit=3))
        details.append("  ")
    if result.get("description"):
        details.append(clip(result["description"], 70), style="dim")
    if details.plain.strip():
        text.append("\n")
        text.append_text(details)
    return text


async def _none() -> None:
    """What the first screen asks of the user's assets when it does not know the user."""
    return None


class SearchScreen(PageScreen):
    """The root page; also the page ``:models`` and friends open with a ``type:`` filter."""

    AUTO_FOCUS = "#query"
    CONTENT = "#results"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(1)", "Next result", show=False, id="results_down"),
        Binding("up", "move(-1)", "Previous result", show=False, id="results_up"),
        Binding("ctrl+t", "toggle_owners", "People/teams", key_display="^t", id="owners_mode"),
    ]

    def __init__(self, location: Any) -> None:
        super().__init__(location)
        self.results: list[dict[str, Any]] = []
        #: the query whose results are drawn (or being fetched), to skip duplicate searches
        self._query = ""
        self._drawn_query: str | None = None
        self._open_when_ready = False
        self._restore_highlight: int | None = None
        #: once the first screen is drawn: what the user owns, and the list's title
        self._home_parts: tuple[Text | None, str | None] | None = None

    def compose_body(self) -> ComposeResult:
        yield SearchBox(placeholder=PLACEHOLDER, id="query")
        yield Static(HINT, id="hint")
        yield ResultList(id="results")

    @property
    def home_shown(self) -> bool:
        """Whether the first screen is drawn whole: the graph's counts and its list."""
        return self._drawn_query in ("", "@") and self._home_parts is not None

    @property
    def shown_query(self) -> str | None:
        """The query whose results are on screen (None before the first search)."""
        return self._drawn_query

    # -- state ----------------------------------------------------------------------------

    def restore_state(self) -> None:
        query = self.location.state.get("query", self.location.params.get("query", ""))
        self._query = query
        self.query_one("#query", Input).value = query
        self._restore_highlight = self.location.state.get("highlighted")

    def save_state(self) -> None:
        self.location.state["query"] = self.query_one("#query", Input).value
        self.location.state["highlighted"] = self.query_one("#results", ResultList).highlighted

    def touches(self, entity_ids: set[str]) -> bool:
        return False  # never redraw under someone typing

    # -- searching ------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "query":
            return
        query = event.value.strip()
        if query == self._query:
            return
        self._query = query
        self.reload(quiet=True, delay=self.mds.search_debounce)

    async def load(self) -> None:
        query = self.query_one("#query", Input).value.strip()
        self._query = query
        hint = self.query_one("#hint", Static)
        if not query or query == "@":
            await self._home(query, hint)
            return
        if query.startswith("@"):
            answer = await self.client.search_owners(query[1:].strip(), limit=RESULT_LIMIT)
            kind = "people and teams"
        else:
            answer = await self.client.search(query, limit=RESULT_LIMIT, **self.moments)
            self.note_as_of(answer)
            kind = "results"
        results = list(answer.get("results", []))
        self.mds.names.update((str(r["id"]), str(r["name"])) for r in results if r.get("name"))
        self._draw(query, results)
        self.location.title = query
        if results:
            found = len(results)
            if kind == "results":
                noun = "result" if found == 1 else "results"
            else:
                noun = "person or team" if found == 1 else kind
            hint.update(
                Text.assemble((f"{found}", "bold"), f" {noun}  ·  enter opens the highlighted one")
            )
        else:
            moments = self.mds.said_moments
            when = f" {moments}" if moments and kind == "results" else ""
            hint.update(Text(f"No {kind} for {query!r}{when}.", style="yellow"))
        if self._open_when_ready:
            self._open_when_ready = False
            self.open_highlighted()

    async def _home(self, query: str, hint: Static) -> None:
        """Before anything is typed: the hint at once, then what the graph holds and needs,
        and a list to open: the entities visited this session, else the latest changed."""
        recent = self.recent()
        self._draw(query, recent)
        hint.update(HINT + Text("\nRecently visited:", style="bold") if recent else HINT)
        me = self.mds.me
        mine = f"owner:{owner_filter(me)}" if me else None
        try:
            status, history, owned = await asyncio.gather(
                self.client.status(),
                self.client.history(limit=HOME_CHANGES, **self.moments),
                self.client.search(mine, limit=MINE_COUNTED, **self.moments) if mine else _none(),
            )
        except ClientError:  # a daemon starting or away: the hint stands, ask again soon
            self.reload(quiet=True, delay=HOME_RETRY_SECONDS)
            return
        listed = recent or home.changed(history)
        if not recent:
            self._draw(query, listed)
        title = (
            "Recently visited:" if recent else f"Recently changed ({home.last_change(history)}):"
        )
        mine_said = (
            home.yours(len(owned.get("results", [])), MINE_COUNTED) if owned is not None else None
        )
        self._home_parts = (mine_said, title if listed else None)
        self._say_home(status)

    def _say_home(self, status: dict[str, Any]) -> None:
        """The home hint: the keys, the graph's counts, the user's own, the list's title."""
        mine_said, title = self._home_parts or (None, None)
        said = Text.assemble(HINT, "\n", home.overview(status))
        if mine_said is not None:
            said.append_text(mine_said)
        hint = self.query_one("#hint", Static)
        hint.update(Text.assemble(said, "\n", (title, "bold")) if title else said)

    def status_changed(self, status: dict[str, Any]) -> None:
        """The counts on the first screen follow the status poll (a backfill fills the
        graph under it); the list and its highlight stay as they are."""
        if self.home_shown:
            self._say_home(status)

    def recent(self) -> list[dict[str, Any]]:
        """Entities visited this session, as results, so Enter on an empty query goes back."""
        return [
            {
                "id": loc.id,
                "name": loc.title or loc.label(),
                "entity_type": TYPE_OF_KIND.get(kind_of(loc.id)),
            }
            for loc in self.mds.history.recent_entities()
        ]

    def _draw(self, query: str, results: list[dict[str, Any]]) -> None:
        self.results = results
        self._drawn_query = query
        listing = self.query_one("#results", ResultList)
        listing.clear_options()
        listing.add_options([Option(result_prompt(r)) for r in results])
        if results:
            wanted = self._restore_highlight or 0
            self._restore_highlight = None
            listing.highlighted = min(wanted, len(results) - 1)

    # -- opening --------------------------------------------------------------------------

    def pointed_id(self) -> str | None:
        index = self.query_one("#results", ResultList).highlighted
        if self.results and index is not None and 0 <= index < len(self.results):
            return str(self.results[index]["id"])
        return None

    def open_highlighted(self) -> None:
        index = self.query_one("#results", ResultList).highlighted
        if self.results:
            self.open_index(index or 0)

    def open_index(self, index: int) -> None:
        if 0 <= index < len(self.results):
            self.mds.open_entity(str(self.results[index]["id"]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "query":
            return
        event.stop()
        if self._drawn_query != event.value.strip():
            # Enter beat the debounce: open the top result as soon as it arrives.
            self._open_when_ready = True
            self.reload(quiet=True)
            return
        self.open_highlighted()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.open_index(event.option_index)

    # -- actions --------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        listing = self.query_one("#results", ResultList)
        if delta > 0:
            listing.action_cursor_down()
        else:
            listing.action_cursor_up()

    def action_find(self) -> None:
        self.query_one("#query", Input).focus()

    def action_toggle_owners(self) -> None:
        field = self.query_one("#query", Input)
        value = field.value
        field.value = value[1:] if value.startswith("@") else "@" + value
        field.cursor_position = len(field.value)
        field.focus()

    def action_escape(self) -> None:
        field = self.query_one("#query", Input)
        if field.value:
            field.value = ""
            field.focus()
        elif self.mds.history.can_back:
            self.mds.action_go_back()
        elif field.has_focus:
            self.query_one("#results", ResultList).focus()
        else:
            field.focus()
