"""Work-arounds for Textual leaks that a long explorer session runs into.

The explorer builds a fresh screen for every page it visits and keeps only the last few,
so whatever keeps a page's widgets alive after it is dropped grows with the session: more
memory, and full garbage collections that walk it all, freezing the screen for longer and
longer. Both issues are open upstream; the tests in ``tests/tui/test_tui_navigation.py``
fail if a Textual release changes what these rely on.
"""

from __future__ import annotations

from textual._styles_cache import StylesCache


def release_left_pages() -> None:
    """Drop what Textual's render cache pins of pages left.

    ``StylesCache.get_inner_outer`` is an ``lru_cache`` on an instance method, so its key
    holds the widget's ``StylesCache`` with every line it rendered (Textualize/textual#6665):
    up to 1,024 of them, 3,300 objects a page. Measured over 40 visits to one entity page,
    full collections grew from 36 ms to 145 ms. The cache only saves two colour additions,
    so it is cleared whenever a page is left.
    """
    StylesCache.get_inner_outer.cache_clear()
