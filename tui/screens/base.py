"""The page every view is built on: chrome around a body that loads from the daemon.

A page is built from its :class:`~tui.nav.Location` (or kept from its last showing, see
:mod:`tui.kept_pages`), loads whenever it is shown in one exclusive worker (a reload
cancels the previous one), and turns every failure into a message on the page: the
explorer never dies because the daemon did.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from mds.client import Client
from tui.asof import Moments
from tui.bookmarks import BookmarksError
from tui.errors import Failure, describe_failure
from tui.format import USAGE_KINDS, kind_of
from tui.host import Host
from tui.nav import Location
from tui.widgets.chrome import AsOfBar, Breadcrumbs, StatusLine
from tui.widgets.keybar import KeyBar

#: how long a page being built waits for its content before it is first painted: a
#: daemon that answers in time (an entity and its sections' calls take a few ms) gets one
#: layout and paint with the content, instead of an empty page laid out and painted, then
#: again with the content, then again with the sections; a slower one shows the page empty
#: (then "Loading…") as before, this much later
FIRST_PAINT_WAIT = 0.03


class PageScreen(Screen[None]):
    """Base of all pages. Subclasses implement :meth:`compose_body` and :meth:`load`."""

    #: the views that make sense only with an entity
    ENTITY_ACTIONS: ClassVar[frozenset[str]] = frozenset({"lineage", "graph", "impact", "usage"})
    #: whether a built page of this view may be given another location to show
    #: (:meth:`retarget`) rather than a new page built for it
    REUSABLE: ClassVar[bool] = False
    #: what a failure that leaves nothing to show hides (:meth:`show_failure`)
    CONTENT: ClassVar[str] = "#body"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "find", "Find", key_display="/", id="find"),
        Binding("escape", "escape", "Back", show=False, id="escape"),
        Binding("l", "lineage", "Lineage", id="lineage"),
        Binding("v", "graph", "Graph", id="graph"),
        Binding("i", "impact", "Impact", id="impact"),
        Binding("u", "usage", "Usage", id="usage"),
        Binding("h", "history", "History", id="history"),
        Binding("y", "copy_id", "Copy id", show=False, id="copy_id"),
        Binding("o", "open_in_source", "Open in source", show=False, id="open_in_source"),
        Binding("b", "bookmark", "Bookmark", show=False, id="bookmark"),
    ]

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        #: why the last load failed (``None`` when it did not); ``down`` reloads on reconnect
        self.failure: Failure | None = None
        self._loading_timer: Timer | None = None
        self._live_pending = False
        #: whether the page was shown: one replaced while it mounted never was, and has no
        #: state to save
        self.shown = False
        #: set when the last load ends (loaded, failed or replaced): a paint waits on it
        self._load_ended = asyncio.Event()

    # -- structure ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(id="breadcrumbs")
        yield AsOfBar(id="asof-bar")
        yield Static(id="message")
        with Vertical(id="body"):
            yield from self.compose_body()
        yield StatusLine(id="status-line")
        yield KeyBar(id="keys")

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def mds(self) -> Host:
        return cast("Host", self.app)

    @property
    def client(self) -> Client:
        return self.mds.client

    @property
    def moments(self) -> Moments:
        """The moments every read of the page passes its client (``as_of``, ``known_at``)."""
        return self.mds.moments

    @property
    def entity_id(self) -> str | None:
        return self.location.id

    def on_mount(self) -> None:
        try:
            self.query_one("#message", Static).display = False
            self.restore_state()
        except NoMatches:
            # Its widgets never mounted: the page was replaced, or the app closed, while it
            # was mounting (keys can arrive faster than pages mount: [ then Enter, a held
            # [). Nobody will see it; going back to it builds it afresh from its location.
            return
        self.shown = True
        self.reload()

    async def on_screen_resume(self) -> None:
        """Hold the paint until the load in flight is shown, for at most
        :data:`FIRST_PAINT_WAIT`. Textual runs a subclass's handler before the base
        class's, and ``Screen``'s lays the page out and paints it: with the content in by
        then, the page is laid out and painted once, with its content."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.content_ready(), FIRST_PAINT_WAIT)

    async def content_ready(self) -> None:
        """Until the page shows what its last load brought."""
        await self._load_ended.wait()

    def resume(self) -> None:
        """Shown again, kept since it was left (:mod:`tui.kept_pages`): load afresh, as the
        data, or the moment the app looks at, may have changed meanwhile."""
        self.reload()

    def retarget(self, location: Location) -> None:
        """Show ``location`` in this page, built for another one of its view
        (:meth:`KeptPages.spare <tui.kept_pages.KeptPages.spare>`): what it showed is
        forgotten, the location's saved state restored, and it loads."""
        self.location = location
        self.forget()
        self.restore_state()
        self.reload()

    def forget(self) -> None:
        """Clear what the page shows, before it shows another location (:meth:`retarget`):
        here the message; each view adds its own content."""
        self.failure = None
        self.clear_message()

    # -- loading --------------------------------------------------------------------------

    def reload(self, *, quiet: bool = False, delay: float = 0.0) -> None:
        """Fetch and render again, cancelling a load in flight.

        ``quiet``: no "Loading…" even if slow (live updates, typing); ``delay``: wait first,
        so a burst of calls (keystrokes, change events) costs one request.
        """
        self._load_ended = asyncio.Event()
        self._load(quiet, delay, self._load_ended)

    def refresh_live(self) -> None:
        """A committed change touched this page: reload shortly, once.

        A throttle, not a debounce: under a steady stream of changes a debounce would
        postpone the reload forever; this reloads at most once per load.
        """
        if not self._live_pending:
            self._live_pending = True
            self.reload(quiet=True, delay=0.3)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _load(self, quiet: bool, delay: float, ended: asyncio.Event) -> None:
        if delay:
            await asyncio.sleep(delay)
        if not quiet:
            self._loading_timer = self.set_timer(0.3, lambda: self.show_message("Loading…", "info"))
        try:
            await self.load()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = describe_failure(exc, self.mds.said_moments)
            self.show_failure(failure)
            if failure.kind == "error":
                self.log.error(f"loading {self.location} failed", exc)
        else:
            self.failure = None
            self.clear_message()
            self._show_content(True)
        finally:
            ended.set()
            self._live_pending = False
            if self._loading_timer is not None:
                self._loading_timer.stop()
                self._loading_timer = None
            self.mds.nav_changed()

    async def load(self) -> None:
        """Fetch this page's data (passing ``moments``) and render it; raise on failure."""

    def touches(self, entity_ids: set[str]) -> bool:
        """Whether a transaction touching ``entity_ids`` changes what this page shows."""
        return self.entity_id is not None and self.entity_id in entity_ids

    def status_changed(self, status: dict[str, Any]) -> None:
        """A status poll answered; most pages show none of it (the status line does)."""

    def note_as_of(self, answer: dict[str, object]) -> None:
        self.mds.note_as_of(answer.get("as_of"))

    # -- messages -------------------------------------------------------------------------

    def show_message(self, text: str, severity: str = "info") -> None:
        message = self.query_one("#message", Static)
        message.set_classes(f"-{severity}")
        message.update(text)
        message.display = True

    def clear_message(self) -> None:
        message = self.query_one("#message", Static)
        message.display = False
        message.update("")

    def show_failure(self, failure: Failure) -> None:
        """Say why the load failed. When the daemon answered that there is nothing to show
        (not found as of this moment, a request it rejects), the last content is hidden: it
        belongs to another moment. A daemon that is away leaves it up, marked by the message."""
        self.failure = failure
        self.show_message(failure.message, failure.severity)
        self._show_content(failure.kind not in ("missing", "bad"))

    def _show_content(self, shown: bool) -> None:
        content = self.query_one(self.CONTENT)
        if content.display == shown:
            return
        content.display = shown
        if shown and self.focused is None and self.AUTO_FOCUS:
            self.query(self.AUTO_FOCUS).focus()  # hiding took the focus with it

    # -- view state -----------------------------------------------------------------------

    def save_state(self) -> None:
        """Keep what is worth restoring (cursor, filter) in ``self.location.state``."""

    def restore_state(self) -> None:
        """Apply ``self.location.state`` before the first load."""

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ENTITY_ACTIONS and self.entity_id is None:
            return False
        if action == "usage":
            return kind_of(self.entity_id) in USAGE_KINDS
        return True

    def pointed_id(self) -> str | None:
        """The entity the cursor is on (a list's row, a graph's node), else the page's."""
        return self.entity_id

    def action_copy_id(self) -> None:
        """``y``: the id under the cursor to the clipboard, through the terminal (OSC 52),
        so it works over ssh too, as lazygit's ``y`` does."""
        found = self.pointed_id()
        if found is None:
            self.notify("Nothing here has an id to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(found)
        self.notify(f"Copied {found}", timeout=3)

    def action_bookmark(self) -> None:
        """``b``: mark the entity under the cursor (``:bookmarks`` lists them), or unmark."""
        found = self.pointed_id()
        if found is None:
            self.notify("Nothing here to bookmark.", severity="warning")
            return
        name = self.mds.names.get(found)
        try:
            marked = self.mds.bookmarks.toggle(found, name)
        except BookmarksError as exc:
            self.notify(str(exc), severity="error")
            return
        said = name or found
        self.notify(f"Bookmarked {said}" if marked else f"Unmarked {said}", timeout=3)
        self.bookmarks_changed()

    def bookmarks_changed(self) -> None:
        """The bookmarks changed (a page that lists them shows them again)."""

    def action_open_in_source(self) -> None:
        """``o``: the entity under the cursor in its source's own UI (MLflow's, or a
        source's ``ui_url``): opened in the browser, and its address copied, for a
        terminal on another machine than the browser."""
        found = self.pointed_id()
        if found is None:
            self.notify("Nothing here to open.", severity="warning")
            return
        self.run_worker(self._open_in_source(found), group="open_in_source", exit_on_error=False)

    async def _open_in_source(self, entity_id: str) -> None:
        try:
            entity = await self.client.entity(entity_id, **self.moments)
        except Exception as exc:
            self.notify(describe_failure(exc, self.mds.said_moments).message, severity="error")
            return
        url = entity.get("source_url")
        if not url:
            source = entity.get("source") or "its source"
            self.notify(
                f"No link into {source}: set ui_url in [sources.{source}].", severity="warning"
            )
            return
        self.app.copy_to_clipboard(url)
        self.app.open_url(url)
        self.notify(f"Opened (and copied) {url}", timeout=6)

    def action_find(self) -> None:
        self.mds.open_search()

    def action_escape(self) -> None:
        self.mds.action_go_back()

    def action_lineage(self) -> None:
        self.mds.go(Location("lineage", self.entity_id))

    def action_graph(self) -> None:
        self.mds.go(Location("graph", self.entity_id))

    def action_impact(self) -> None:
        self.mds.go(Location("impact", self.entity_id))

    def action_usage(self) -> None:
        self.mds.go(Location("usage", self.entity_id))

    def action_history(self) -> None:
        self.mds.go(Location("history", self.entity_id))
