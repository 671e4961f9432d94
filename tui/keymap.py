"""The user's keymap: a TOML file that rebinds keys by binding id.

Format (``~/.config/mds/keymap.toml`` or ``--keymap PATH``)::

    [keys]
    back = "backspace"          # one key
    forward = ["]", "ctrl+n"]   # several keys
    lineage = "L"

Ids are those shown by ``?`` (help). The result goes to ``App.set_keymap``; unknown ids are
reported rather than silently ignored, because a typo would otherwise look like a bug.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from textual.binding import ActiveBinding, Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input

from tui.textual_internals import TYPED_KEYS


class KeymapError(Exception):
    """The keymap file cannot be used; the message says where and why."""


def default_keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "mds" / "keymap.toml"


def load_keymap(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Read a keymap file into ``{binding_id: "key1,key2"}``.

    With no ``path`` the default file is used if it exists; an explicit ``path`` must exist.
    """
    explicit = path is not None
    target = Path(path).expanduser() if path is not None else default_keymap_path()
    if not target.exists():
        if explicit:
            raise KeymapError(f"keymap file not found: {target}")
        return {}
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KeymapError(f"{target}: {exc}") from exc
    return parse_keymap(data, source=str(target))


def parse_keymap(data: dict[str, object], *, source: str = "keymap") -> dict[str, str]:
    unknown_tables = set(data) - {"keys"}
    if unknown_tables:
        raise KeymapError(f"{source}: unknown table(s) {sorted(unknown_tables)}; expected [keys]")
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise KeymapError(f"{source}: [keys] must be a table of binding id = key(s)")
    keymap: dict[str, str] = {}
    for binding_id, value in table.items():
        keys = [value] if isinstance(value, str) else value
        if (
            not isinstance(keys, list)
            or not keys
            or not all(isinstance(k, str) and k.strip() for k in keys)
        ):
            raise KeymapError(
                f'{source}: keys.{binding_id} must be a key or a list of keys, e.g. "ctrl+o"'
            )
        keymap[str(binding_id)] = ",".join(k.strip() for k in keys)
    return keymap


def binding_ids(classes: Iterable[type]) -> set[str]:
    """Every binding id declared by ``classes`` (and their bases)."""
    ids: set[str] = set()
    for cls in classes:
        for klass in cls.__mro__:
            bindings: list[BindingType] = list(getattr(klass, "BINDINGS", []) or [])
            ids.update(b.id for b in bindings if isinstance(b, Binding) and b.id)
    return ids


def unknown_ids(keymap: Mapping[str, str], known: set[str]) -> list[str]:
    return sorted(set(keymap) - known)


def live_bindings(screen: Screen[object]) -> list[ActiveBinding]:
    """The screen's active bindings that a key press reaches now.

    With a text input focused, a printable key is typed, so of the bindings on such keys
    only priority ones (which come before the input) act; the key bar and the help
    would otherwise offer ``@`` or ``/`` where they type ``@`` or ``/``.
    """
    typing = isinstance(screen.focused, Input)
    return [
        active
        for key, active in screen.active_bindings.items()
        if not (typing and key in TYPED_KEYS and not active.binding.priority)
    ]
