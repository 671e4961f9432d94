"""The app as its parts see it: what pages, widgets, the palette and the command line ask
of ``MdsApp``.

A Protocol, so that those parts (which the app imports to build itself) never import the
app back; ``tui.app.MdsApp`` is the one implementation.
"""

from __future__ import annotations

from typing import Any, Protocol

from mds.client import Client
from tui.asof import Moments
from tui.bookmarks import Bookmarks
from tui.errors import Failure
from tui.nav import History, Location

__all__ = ["Host", "ShownPage"]


class ShownPage(Protocol):
    """The page on screen, as the command line and the live link see it."""

    @property
    def entity_id(self) -> str | None:
        """The entity the page is about, if any."""

    @property
    def failure(self) -> Failure | None:
        """Why its last load failed (None when it did not)."""

    def reload(self) -> None:
        """Load it again."""

    def touches(self, entity_ids: set[str]) -> bool:
        """Whether a transaction touching ``entity_ids`` changes what the page shows."""

    def refresh_live(self) -> None:
        """A committed change touched the page: reload it."""

    def status_changed(self, status: dict[str, Any]) -> None:
        """A status poll answered: a page that shows the daemon's counts redraws them."""


class Host(Protocol):
    """The explorer app: its daemon client, where it is, the moment it shows, where it goes."""

    @property
    def client(self) -> Client:
        """The daemon client every page reads through."""

    @property
    def history(self) -> History:
        """The pages visited, back and forward."""

    @property
    def names(self) -> dict[str, str]:
        """id -> display name of everything seen, for breadcrumbs and lists of bare ids."""

    @property
    def me(self) -> str | None:
        """Who the user is, as search's ``owner:`` filter takes it (``--me``), if said."""

    @property
    def bookmarks(self) -> Bookmarks:
        """The entities the user marked with ``b``."""

    @property
    def search_debounce(self) -> float:
        """Seconds the search page waits after a keystroke before it searches."""

    @property
    def as_of(self) -> str | None:
        """The valid time every view answers for; None for the latest."""

    @property
    def known_at(self) -> str | None:
        """The system time every view answers for ("as mds knew it"); None for all of it."""

    @property
    def moments(self) -> Moments:
        """``as_of`` and ``known_at``, as every read passes them to the client."""

    @property
    def travelling(self) -> bool:
        """Whether the views show the past (either moment set) rather than the live graph."""

    @property
    def said_moments(self) -> str:
        """The moments in words for messages; empty when live."""

    @property
    def as_of_tx(self) -> int | None:
        """The transaction ``as_of`` resolved to, when known."""

    @property
    def page(self) -> ShownPage | None:
        """The page on screen (None under a modal)."""

    def go(self, location: Location) -> None:
        """Visit a new page."""

    def open_entity(self, entity_id: str) -> None:
        """Visit an entity's page."""

    def open_search(self, query: str = "") -> None:
        """Visit the search page, with ``query`` typed."""

    def open_best(self, query: str) -> object:
        """Open the best search hit of ``query`` (in a worker)."""

    def open_global_history(self) -> None:
        """Visit the latest transactions of the whole graph."""

    def nav_changed(self) -> None:
        """A page learnt its title: redraw the breadcrumbs."""

    def note_as_of(self, point: Any) -> None:
        """The daemon said which moment it answered for (its ``as_of`` object)."""

    def travel_to(self, tx: int, entity_id: str | None = None) -> None:
        """Time travel to ``tx``, on the entity's page."""

    def set_as_of(self, value: str | None) -> None:
        """Change the valid time every view answers for (None: back to live)."""

    def set_moments(self, as_of: str | None, known_at: str | None) -> None:
        """Change both moments every view answers for."""

    def notify_once(self, message: str, *, severity: str = "information") -> None:
        """Notify, but not again for the same message."""

    def use_theme(self, name: str) -> None:
        """Colour the explorer with one of Textual's themes (an unknown name says which
        there are)."""

    def run_command(self, text: str) -> None:
        """Run a ``:`` command line."""

    def action_go_back(self) -> None:
        """Back one page."""

    def action_back_or_quit(self) -> None:
        """Back one page, or quit on the first."""

    def action_reload(self) -> None:
        """Load the page on screen again."""

    def action_help(self) -> None:
        """Show the keys and commands."""

    def action_as_of_prompt(self) -> None:
        """Ask for a moment to travel to."""

    def exit(self) -> None:
        """Leave the app."""
