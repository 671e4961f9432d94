"""Entities a person keeps coming back to: ``b`` marks one, ``:bookmarks`` lists them.

Kept in ``$XDG_CONFIG_HOME/mds/bookmarks.json`` (a list of ``{"id", "name"}``), beside the
keymap, so they outlive the session and follow the user, not the daemon. A file that
cannot be read is reported, never overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class BookmarksError(Exception):
    """The bookmarks file cannot be read or written; the message says which and why."""


def default_bookmarks_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "mds" / "bookmarks.json"


class Bookmarks:
    """The bookmarks of one file, read once and written on every change."""

    def __init__(self, path: Path, items: list[dict[str, Any]] | None = None) -> None:
        self.path = path
        self.items: list[dict[str, Any]] = self._read() if items is None else items

    @classmethod
    def empty(cls, path: Path) -> Bookmarks:
        """None yet (the file unread): what the app holds until it has read it."""
        return cls(path, [])

    def _read(self) -> list[dict[str, Any]]:
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise BookmarksError(f"{self.path}: {exc}") from exc
        if not isinstance(found, list) or not all(
            isinstance(b, dict) and isinstance(b.get("id"), str) for b in found
        ):
            raise BookmarksError(f"{self.path}: expected a list of {{'id', 'name'}} objects")
        return found

    def __contains__(self, entity_id: object) -> bool:
        return any(b["id"] == entity_id for b in self.items)

    def toggle(self, entity_id: str, name: str | None) -> bool:
        """Mark ``entity_id``, or unmark it if marked; whether it is marked now."""
        marked = entity_id not in self
        if marked:
            self.items.append({"id": entity_id, "name": name})
        else:
            self.items = [b for b in self.items if b["id"] != entity_id]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(self.items, indent=2), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            raise BookmarksError(f"{self.path}: {exc}") from exc
        return marked
