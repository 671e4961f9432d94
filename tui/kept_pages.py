"""The last few pages visited, kept alive so that going back to one is a repaint.

Building a page is most of what opening one costs: composing its widgets, styling and
laying them out take 70-90 ms of CPU, against 0.5 ms for the daemon's answer. Back and
forward revisit pages just left, so the explorer keeps the last ``KEPT_PAGES`` of them
installed (Textual leaves an installed screen mounted while it is off the stack) and
shows a kept page again, reloaded, instead of building a new one. Its cursor, filter and
scroll stay as they were. A page visited anew (a new :class:`~tui.nav.Location`) is built
afresh, unless its view's pages are reusable (entity pages, the one opened most) and a kept
one will not be shown again: that one is given the new location (:meth:`KeptPages.spare`).
A page evicted from here is removed, all its widgets with it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tui.nav import Location

if TYPE_CHECKING:
    from textual.app import App

    from tui.screens.base import PageScreen

#: How many pages stay built. Each holds its widgets and their render caches (a few
#: thousand objects); back and forward rarely go further than this.
KEPT_PAGES = 6


class KeptPages:
    """Pages by the history entry they show, least recently shown first."""

    def __init__(self, app: App[Any], size: int = KEPT_PAGES) -> None:
        self._app = app
        self._size = size
        self._pages: OrderedDict[int, PageScreen] = OrderedDict()
        self._names = (f"mds-page-{n}" for n in itertools.count())

    def get(self, location: Location) -> PageScreen | None:
        """The page built for ``location`` (this very history entry), if kept and ever
        shown: one replaced while it mounted has nothing worth keeping."""
        page = self._pages.get(id(location))
        if page is None or page.location is not location or not page.shown:
            return None
        self._pages.move_to_end(id(location))
        return page

    def spare(
        self, view: type[PageScreen], reachable: Callable[[Location], bool]
    ) -> PageScreen | None:
        """A built page of ``view`` to show a new location in, if the view's pages are
        ``REUSABLE`` and one will not be shown again: its history entry is gone (a visit
        after going back dropped it), or it is the least recently shown and keeping
        another page would evict it. Building a page is most of opening one; giving a
        kept one the new location skips it. Never a page on the screen stack."""
        if not view.REUSABLE:
            return None
        idle = [
            page
            for page in self._pages.values()
            if type(page) is view and page.shown and page not in self._app.screen_stack
        ]
        found = next((page for page in idle if not reachable(page.location)), None)
        if found is None and len(self._pages) >= self._size:
            oldest = next(iter(self._pages.values()))
            found = oldest if oldest in idle else None
        if found is not None:
            del self._pages[id(found.location)]
        return found

    def keep(self, page: PageScreen) -> None:
        """Keep ``page`` (about to be shown), evicting the least recently shown beyond
        the size, except the page on screen."""
        stale = self._pages.pop(id(page.location), None)
        if stale is not None and stale is not page:
            self._discard(stale)
        if not self._app.is_screen_installed(page):  # a spare one is, under its name
            self._app.install_screen(page, next(self._names))
        self._pages[id(page.location)] = page
        while len(self._pages) > self._size:
            _, oldest = self._pages.popitem(last=False)
            self._discard(oldest)

    def _discard(self, page: PageScreen) -> None:
        self._app.uninstall_screen(page)
        if page not in self._app.screen_stack:
            page.remove()
        # else: Textual removes it when it leaves the stack, now that it is not installed
