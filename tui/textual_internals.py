"""Every place the explorer reaches into Textual's internals, and why; nothing else in ``tui``
does (pyproject pins Textual to the 8.x series for this module).

- :data:`TYPED_KEYS` uses ``textual.keys._character_to_key``, Textual's own naming of the key
  a character is (``@`` is ``at``), so the key bar and the help can leave out the bindings a
  focused input would type instead; a hand-written table would drift from Textual's names.
- :func:`release_left_pages` clears the ``lru_cache`` on ``StylesCache.get_inner_outer``
  (``textual._styles_cache``), which pins every page left (Textualize/textual#6665).
- :func:`unwatch` edits the list Textual keeps a reactive's watchers in (the ``__watchers``
  attribute of the watched object), which keeps a removed widget until the reactive next
  changes (Textualize/textual#6666).
- :class:`StylesCache` is named here for the test that counts the caches of pages left.

Both leaks matter because the explorer builds a fresh screen for every page it visits and
keeps only the last few: whatever keeps a page's widgets alive after it is dropped grows with
the session, in memory and in the full collections that walk it all. Both issues are open
upstream; ``test_pages_left_are_released`` in ``tests/tui/test_tui_navigation.py`` fails if
a Textual release changes what this module relies on.
"""

from __future__ import annotations

from textual._styles_cache import StylesCache
from textual.dom import DOMNode
from textual.keys import _character_to_key

__all__ = ["TYPED_KEYS", "StylesCache", "release_left_pages", "unwatch"]

#: the keys a focused text input types instead of passing on to the bindings
TYPED_KEYS = frozenset(_character_to_key(chr(code)) for code in range(32, 127))


def release_left_pages() -> None:
    """Drop what Textual's render cache pins of pages left.

    ``StylesCache.get_inner_outer`` is an ``lru_cache`` on an instance method, so its key
    holds the widget's ``StylesCache`` with every line it rendered: up to 1,024 of them,
    3,300 objects a page. Measured over 40 visits to one entity page, full collections grew
    from 36 ms to 145 ms. The cache only saves two colour additions, so it is cleared
    whenever a page is left.
    """
    StylesCache.get_inner_outer.cache_clear()


def unwatch(watched: DOMNode, reactive: str, node: DOMNode) -> None:
    """Take ``node``'s watchers off ``watched``'s ``reactive``, as it is removed.

    Textual drops the watcher of a removed widget only when the watched reactive next
    changes, so every page left kept its chrome, and the chrome's render caches, alive until
    then: the as-of bar of each page for the whole of a session that never time travels. A
    full collection then walked 3,300 more objects per page visited, and page opens slowed
    as a session went on.
    """
    watchers = getattr(watched, "__watchers", {}).get(reactive)
    if watchers:
        watchers[:] = [(owner, callback) for owner, callback in watchers if owner is not node]
