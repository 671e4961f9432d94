"""Where the user has been: locations and the back/forward history of visited pages.

History holds locations, not pages, so it stays small however long a session runs. The
last few pages are kept built (:mod:`tui.kept_pages`) and reloaded when revisited (the data
may have changed, or the as-of moment); an older one is rebuilt from its :class:`Location`,
into which the little view state worth keeping (cursor, filter, query) is saved when the
page is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Location:
    """One visitable page: a view, the entity it is about, and its parameters."""

    view: str
    id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    #: the human name shown in the breadcrumb, filled in once the page has loaded
    title: str = ""
    #: view state saved when the page is left and restored when it is shown again
    state: dict[str, Any] = field(default_factory=dict)
    #: the moments (as_of, known_at) it was last shown at: going back shows it at them again
    moments: tuple[str | None, str | None] = (None, None)

    def label(self) -> str:
        name = self.title or (self.id.rsplit("/", 1)[-1] if self.id else "")
        if self.view == "search":
            query = self.state.get("query") or self.params.get("query", "")
            return f"search {query}".strip()
        if self.view == "entity":
            return name or "entity"
        return f"{self.view} {name}".strip()

    def same_page(self, other: Location) -> bool:
        return (self.view, self.id, self.params) == (other.view, other.id, other.params)


class History:
    """A browser-style history: ``push`` drops the forward entries, ``back``/``forward`` move."""

    def __init__(self, limit: int = 200) -> None:
        self._entries: list[Location] = []
        self._index = -1
        self._limit = limit

    @property
    def current(self) -> Location | None:
        return self._entries[self._index] if self._entries else None

    @property
    def can_back(self) -> bool:
        return self._index > 0

    @property
    def can_forward(self) -> bool:
        return self._index < len(self._entries) - 1

    @property
    def ahead(self) -> int:
        return len(self._entries) - 1 - self._index

    def peek_back(self) -> Location | None:
        return self._entries[self._index - 1] if self.can_back else None

    def push(self, location: Location) -> Location:
        """Visit ``location``; revisiting the current page does not add an entry."""
        current = self.current
        if current is not None and current.same_page(location):
            return current
        del self._entries[self._index + 1 :]
        self._entries.append(location)
        if len(self._entries) > self._limit:
            del self._entries[0]
        self._index = len(self._entries) - 1
        return location

    def back(self) -> Location | None:
        if not self.can_back:
            return None
        self._index -= 1
        return self.current

    def forward(self) -> Location | None:
        if not self.can_forward:
            return None
        self._index += 1
        return self.current

    def holds(self, location: Location) -> bool:
        """Whether ``location`` is still an entry (back or forward can reach it)."""
        return any(entry is location for entry in self._entries)

    def recent_entities(self, limit: int = 10) -> list[Location]:
        """Entity pages visited, most recent first, each once."""
        seen: set[str] = set()
        found = []
        for location in reversed(self._entries):
            if location.view == "entity" and location.id and location.id not in seen:
                seen.add(location.id)
                found.append(location)
        return found[:limit]

    def trail(self, size: int = 6) -> list[Location]:
        """The last ``size`` entries up to and including the current one."""
        start = max(0, self._index - size + 1)
        return self._entries[start : self._index + 1]
