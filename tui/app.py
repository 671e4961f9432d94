"""The explorer application: navigation, time travel, commands and the live connection.

Pages know how to load and draw themselves; the app owns everything that spans pages:
the client, the visited-page history, the as-of moment, the keymap, the status poll and
the change stream that refreshes the page on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from mds.client import Client
from mds.wire.moments import is_age, iso, moment_of
from tui.asof import Moments, normalize_as_of, parse_moments, said_moments, step_tx, typed
from tui.bookmarks import Bookmarks, BookmarksError, default_bookmarks_path
from tui.commands import CommandError, execute, parse_command
from tui.errors import describe_failure
from tui.format import fmt_time, parse_time
from tui.kept_pages import KeptPages
from tui.keymap import binding_ids, unknown_ids
from tui.live import LiveLink
from tui.nav import History, Location
from tui.palette import CommandProvider, EntityProvider
from tui.screens.base import PageScreen
from tui.screens.bookmarks import BookmarksScreen
from tui.screens.diff import DiffScreen
from tui.screens.entity import EntityScreen
from tui.screens.fields import FieldScreen
from tui.screens.graph import GraphScreen
from tui.screens.help import HelpScreen, live_keys
from tui.screens.history import HistoryScreen
from tui.screens.impact import ImpactScreen
from tui.screens.info import InfoScreen
from tui.screens.lineage import LineageScreen
from tui.screens.path import PathScreen
from tui.screens.prompt import AsOfPrompt, CommandLine
from tui.screens.quality import QualityScreen
from tui.screens.search import SearchScreen
from tui.screens.status import StatusScreen
from tui.screens.usage import UsageScreen
from tui.textual_internals import release_left_pages
from tui.widgets.chrome import StatusInfo
from tui.widgets.filter_bar import FilterBar
from tui.widgets.lists import NavTable, NavTree, ResultList
from tui.widgets.search_box import SearchBox

#: view name -> page class; a Location names its view, the page is built from it
VIEWS: dict[str, type[PageScreen]] = {
    "search": SearchScreen,
    "entity": EntityScreen,
    "field": FieldScreen,
    "lineage": LineageScreen,
    "graph": GraphScreen,
    "diff": DiffScreen,
    "impact": ImpactScreen,
    "usage": UsageScreen,
    "history": HistoryScreen,
    "path": PathScreen,
    "quality": QualityScreen,
    "status": StatusScreen,
    "bookmarks": BookmarksScreen,
}

ClientFactory = Callable[[], Client]


class MdsApp(App[None]):
    """``MdsApp(client=...)`` uses (and never closes) a given client; ``client_factory``
    makes one the app owns; with neither, the default socket is used."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "mds"
    COMMANDS: ClassVar[set[Any]] = {EntityProvider, CommandProvider}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit"),
        Binding("q", "back_or_quit", "Back/quit", show=False, id="back_or_quit"),
        Binding("colon", "command_line", "Command", key_display=":", id="command_line"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True, id="palette"),
        Binding("left_square_bracket", "go_back", "Back", key_display="[", show=False, id="back"),
        Binding(
            "right_square_bracket",
            "go_forward",
            "Forward",
            key_display="]",
            show=False,
            id="forward",
        ),
        Binding("at", "as_of_prompt", "As of", key_display="@", id="as_of"),
        Binding(
            "left_curly_bracket",
            "step_tx(-1)",
            "Previous change",
            key_display="{",
            show=False,
            id="tx_prev",
        ),
        Binding(
            "right_curly_bracket",
            "step_tx(1)",
            "Next change",
            key_display="}",
            show=False,
            id="tx_next",
        ),
        Binding("ctrl+r", "reload", "Reload", key_display="^r", show=False, id="reload"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
    ]

    #: valid time: the graph as it was then in the sources (None: the latest)
    as_of: reactive[str | None] = reactive(None)
    #: system time: what mds had recorded by then (None: all of it)
    known_at: reactive[str | None] = reactive(None)
    #: the moments the daemon resolved them to: (tx, at) of the system basis, valid time
    as_of_point: reactive[tuple[int | None, str | None, str | None] | None] = reactive(None)
    as_of_label: reactive[str] = reactive("")
    status_info: reactive[StatusInfo] = reactive(StatusInfo)
    nav_version: reactive[int] = reactive(0)

    def __init__(
        self,
        *,
        client: Client | None = None,
        client_factory: ClientFactory | None = None,
        socket: str | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
        keymap: Mapping[str, str] | None = None,
        start: Location | None = None,
        bookmarks: Path | None = None,
        theme: str | None = None,
        me: str | None = None,
        search_debounce: float = 0.05,
        status_interval: float = 3.0,
        live: bool = True,
    ) -> None:
        super().__init__()
        self._owns_client = client is None
        self.client: Client = client or (client_factory or (lambda: Client(socket)))()
        self.history = History()
        #: id -> display name of everything seen, for breadcrumbs and lists of bare ids
        self.names: dict[str, str] = {}
        self._bookmarks_path = bookmarks or default_bookmarks_path()
        self._theme = theme
        #: who the user is, as search's ``owner:`` filter takes it (``--me``): their assets
        self.me = me
        #: the entities marked with ``b`` (``:bookmarks``); empty until read at mount
        self.bookmarks = Bookmarks.empty(self._bookmarks_path)
        self.search_debounce = search_debounce
        self.status_interval = status_interval
        self.live = live
        self._start = start or Location("search")
        self._initial_as_of = normalize_as_of(as_of)
        self._initial_known_at = normalize_as_of(known_at, "known_at")
        self._user_keymap = dict(keymap or {})
        self._notified: set[str] = set()
        self.link = LiveLink(self)
        self.kept_pages = KeptPages(self)

    # -- lifecycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._theme:
            self.use_theme(self._theme)
        try:
            self.bookmarks = Bookmarks(self._bookmarks_path)
        except BookmarksError as exc:
            self.notify(f"bookmarks: {exc} (none shown; the file is left as it is)", timeout=10)
        if self._user_keymap:
            unknown = unknown_ids(self._user_keymap, self.known_binding_ids())
            if unknown:
                self.notify(
                    f"keymap: unknown binding ids {', '.join(unknown)} (see ? for ids)",
                    severity="warning",
                    timeout=10,
                )
            self.set_keymap(self._user_keymap)
        self.as_of = self._initial_as_of
        self.known_at = self._initial_known_at
        self.go(self._start)
        if self.live:
            self.link.start()

    async def on_unmount(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    @staticmethod
    def known_binding_ids() -> set[str]:
        classes: list[type] = [MdsApp, *VIEWS.values(), NavTable, NavTree, ResultList, FilterBar]
        classes += [SearchBox, HelpScreen, InfoScreen, CommandLine, AsOfPrompt]
        return binding_ids(classes)

    def use_theme(self, name: str) -> None:
        """Colour the explorer with one of Textual's themes; without a name, or an unknown
        one, say which there are."""
        if name not in self.available_themes:
            known = ", ".join(sorted(self.available_themes))
            said = f"no theme {name!r}; there are: " if name else "themes: "
            self.notify(said + known, severity="warning" if name else "information", timeout=10)
            return
        self.theme = name

    def notify_once(self, message: str, *, severity: str = "information") -> None:
        """Notify, but not again for the same message (palette searches run per keystroke)."""
        if message not in self._notified:
            self._notified.add(message)
            self.notify(message, severity=severity)  # type: ignore[arg-type]

    # -- navigation -----------------------------------------------------------------------

    @property
    def page(self) -> PageScreen | None:
        screen = self.screen
        return screen if isinstance(screen, PageScreen) else None

    def go(self, location: Location) -> None:
        """Visit a new page (the forward history is dropped, as in a browser), at the
        moments on screen now."""
        self._leave_page()
        shown = self.history.push(location)
        shown.moments = (self.as_of, self.known_at)
        self._show(shown)

    def _leave_page(self) -> None:
        page = self.page
        if page is not None and page.shown:
            page.save_state()

    def _show(self, location: Location) -> None:
        page = self.kept_pages.get(location)
        if page is None:
            view = VIEWS[location.view]
            page = self.kept_pages.spare(view, self.history.holds)
            if page is None:
                page = view(location)
            else:
                page.retarget(location)
            self.kept_pages.keep(page)
        elif page is self.screen:
            page.reload()
        else:
            page.resume()
        top = self.screen_stack[-1] if len(self.screen_stack) > 1 else None
        if isinstance(top, PageScreen):
            self.switch_screen(page)
            release_left_pages()
        else:
            self.push_screen(page)
        self.nav_changed()

    def nav_changed(self) -> None:
        for location in self.history.trail(8):
            if location.id and location.title and location.view == "entity":
                self.names.setdefault(location.id, location.title)
        self.nav_version += 1

    def open_entity(self, entity_id: str) -> None:
        self.go(Location("entity", entity_id))

    def open_search(self, query: str = "") -> None:
        current = self.history.current
        if current is not None and current.view == "search" and not query:
            page = self.page
            if page is not None:
                page.action_find()
                return
        self.go(Location("search", params={"query": query} if query else {}))

    def open_global_history(self) -> None:
        self.go(Location("history"))

    def action_go_back(self) -> None:
        self._leave_page()
        location = self.history.back()
        if location is not None:
            self._revisit(location)

    def action_go_forward(self) -> None:
        self._leave_page()
        location = self.history.forward()
        if location is not None:
            self._revisit(location)

    def _revisit(self, location: Location) -> None:
        """Show a page of the history at the moments it was shown at: back from a page
        opened in time travel to one seen live is live again, as a browser's back
        restores the address with its query."""
        if location.moments != (self.as_of, self.known_at):
            self.as_of, self.known_at = location.moments
            self.as_of_point = None
        self._show(location)

    def action_back_or_quit(self) -> None:
        if self.history.can_back:
            self.action_go_back()
        else:
            self.exit()

    def action_reload(self) -> None:
        page = self.page
        if page is not None:
            page.reload()

    # -- prompts, help, commands ----------------------------------------------------------

    def action_command_line(self) -> None:
        self.push_screen(CommandLine(), self._command_entered)

    def _command_entered(self, text: str | None) -> None:
        if text and text.strip():
            self.run_command(text)

    def action_as_of_prompt(self) -> None:
        self.push_screen(AsOfPrompt(typed(self.as_of, self.known_at)), self._as_of_entered)

    def _as_of_entered(self, text: str | None) -> None:
        if text is None:
            return
        try:
            self.set_moments(*parse_moments(text))
        except ValueError as exc:
            self.notify(str(exc), severity="warning")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(live_keys(self, self.screen)))

    def run_command(self, text: str) -> None:
        """Execute a ``:`` command line (also used by the palette)."""
        try:
            command = parse_command(text)
        except CommandError as exc:
            self.notify(str(exc), severity="warning")
            return
        try:
            execute(self, command)
        except CommandError as exc:
            self.notify(str(exc), severity="warning")

    @work(group="open", exclusive=True, exit_on_error=False)
    async def open_best(self, query: str) -> None:
        """``:open name``: open the best search hit, for people who do not know the id."""
        try:
            answer = await self.client.search(query, limit=1, **self.moments)
        except Exception as exc:
            self.notify(describe_failure(exc, self.said_moments).message, severity="error")
            return
        results = answer.get("results", [])
        if results:
            self.open_entity(str(results[0]["id"]))
        else:
            self.notify(f"nothing matches {query!r}", severity="warning")

    # -- time travel ----------------------------------------------------------------------

    @property
    def moments(self) -> Moments:
        """What every read passes its client: ``as_of`` (valid time), ``known_at`` (system)."""
        return {"as_of": self.as_of, "known_at": self.known_at}

    @property
    def travelling(self) -> bool:
        """Whether the views show the past (either axis) rather than the live graph."""
        return self.as_of is not None or self.known_at is not None

    @property
    def said_moments(self) -> str:
        """The moments in words, for messages ("as of 2025-01-01 (valid time)")."""
        return said_moments(self.as_of, self.known_at)

    def set_as_of(self, value: str | None) -> None:
        """Change the valid time every view answers for (``None``: back to live, on both
        axes), and redraw the page on screen."""
        self.set_moments(value, self.known_at if value is not None else None)

    def set_moments(self, as_of: str | None, known_at: str | None) -> None:
        """Change both moments every view answers for, and redraw the page on screen."""
        if (as_of, known_at) == (self.as_of, self.known_at):
            return
        self.as_of, self.known_at = as_of, known_at
        self.as_of_point = None
        current = self.history.current
        if current is not None:
            current.moments = (as_of, known_at)
        if not self.travelling:
            self.notify("Back to live.", timeout=2)
        self.action_reload()

    def travel_to(self, tx: int, entity_id: str | None = None) -> None:
        """As of ``tx``, back on the entity's page (history rows, Enter)."""
        self.set_moments(f"tx:{tx}", None)
        previous = self.history.peek_back()
        if entity_id is None:
            return
        if previous is not None and previous.view == "entity" and previous.id == entity_id:
            previous.moments = (self.as_of, self.known_at)
            self.action_go_back()
        else:
            self.open_entity(entity_id)

    def note_as_of(self, point: Any) -> None:
        if self.travelling and isinstance(point, dict):
            resolved = (point.get("tx"), point.get("at"), point.get("valid_time"))
            if resolved != self.as_of_point:
                self.as_of_point = resolved

    @property
    def as_of_tx(self) -> int | None:
        if not self.travelling:
            return None
        if self.as_of_point and self.as_of_point[0] is not None:
            return int(self.as_of_point[0])
        for moment in (self.as_of, self.known_at):
            if moment is not None and moment.startswith("tx:"):
                return int(moment[3:])
        return None

    @property
    def valid_moment(self) -> datetime | None:
        """The valid time shown, when known: the as-of time, or a tx's instant once the
        daemon said it (``None`` while live on that axis, or not resolved yet)."""
        if self.as_of is None:
            return None
        if self.as_of.startswith("tx:"):
            at = self.as_of_point[1] if self.as_of_point else None
            return parse_time(at) if at else None
        moment = moment_of(self.as_of)
        return moment if isinstance(moment, datetime) else None

    def _update_as_of_label(self) -> None:
        """The as-of bar's words: which axis each moment is on, and what it resolved to."""
        tx, at, _ = self.as_of_point or (None, None, None)
        when = f", {fmt_time(at)}" if at else ""
        parts = []
        if self.as_of is not None and self.as_of.startswith("tx:"):
            parts.append(f"AS OF tx {self.as_of[3:]} (as mds knew it then{when})")
        elif self.as_of is not None:
            parts.append(f"AS OF {self.as_of} (valid time)")
        if self.known_at is not None:
            named_tx = self.known_at.startswith("tx:")
            basis = when if named_tx or tx is None else f", tx {tx}{when}"
            known = self.known_at.replace("tx:", "tx ")
            # an age reads as one: "1m ago", not "at 1m"
            said = f"{known} AGO" if is_age(known) else f"AT {known}"
            parts.append(f"AS MDS KNEW IT {said} (system time{basis})")
        self.as_of_label = " · ".join(parts)

    def watch_as_of(self) -> None:
        self._update_as_of_label()

    def watch_known_at(self) -> None:
        self._update_as_of_label()

    def watch_as_of_point(self) -> None:
        self._update_as_of_label()

    @work(group="step", exclusive=True, exit_on_error=False)
    async def action_step_tx(self, step: int) -> None:
        """``{``/``}``: the entity's previous/next change by valid time (or the graph's
        previous/next transaction, off an entity)."""
        page = self.page
        entity = page.entity_id if page is not None else None
        if entity is not None:
            await self._step_valid(entity, 1 if step > 0 else -1)
        else:
            await self._step_graph(1 if step > 0 else -1)

    async def _step_valid(self, entity: str, step: Literal[-1, 1]) -> None:
        """Step the valid time to the entity's previous/next change as mds knows it (its
        whole history at the known-at moment, so this also reaches an entity's first
        change from before it existed); past the last change, back to the latest."""
        try:
            answer = await self.client.history(entity, limit=500, known_at=self.known_at)
        except Exception as exc:
            self.notify(describe_failure(exc).message, severity="error")
            return
        times = {
            parsed
            for t in answer.get("transactions", [])
            for c in t.get("changes", [])
            if (parsed := parse_time(c.get("valid") or t.get("at"))) is not None
        }
        current = self.valid_moment
        if self.as_of is not None and current is None:
            self.notify(
                "Waiting for the daemon to resolve the current moment; try again.",
                severity="warning",
            )
            return
        target = step_tx(times, current, step)
        if target is not None:
            self.set_moments(iso(target), self.known_at)
        elif step > 0 and self.as_of is not None:
            self.set_moments(None, self.known_at)
        else:
            self.notify(
                f"No {'earlier' if step < 0 else 'later'} change of this entity.",
                severity="warning",
                timeout=3,
            )

    async def _step_graph(self, step: Literal[-1, 1]) -> None:
        """Step to the graph's previous/next transaction (as mds knew it then)."""
        current = self.as_of_tx
        try:
            answer = await self.client.history(limit=200)
            if current is not None:
                older = await self.client.history(limit=200, before_tx=current + 1)
                answer["transactions"] = answer.get("transactions", []) + older.get(
                    "transactions", []
                )
        except Exception as exc:
            self.notify(describe_failure(exc).message, severity="error")
            return
        txs = [int(t["tx"]) for t in answer.get("transactions", []) if "tx" in t]
        if self.travelling and current is None:
            self.notify(
                "Waiting for the daemon to resolve the current moment; try again.",
                severity="warning",
            )
            return
        target = step_tx(txs, current, step)
        if target is not None:
            self.set_moments(f"tx:{target}", None)
        elif step > 0 and self.travelling:
            self.set_moments(None, None)
        else:
            self.notify(
                f"No {'earlier' if step < 0 else 'later'} transaction of the graph.",
                severity="warning",
                timeout=3,
            )
