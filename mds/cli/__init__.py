"""``mds``, the scripting client of the mds daemon (docs/cli.md).

Layout: ``spec`` (commands as data), ``commands`` (one function per daemon call),
``render`` (human output), ``options`` (argument types), ``app`` (parser, runner and exit
codes), ``completion`` and ``docs`` (generated from the parser, via ``introspect``).
"""

from __future__ import annotations

from .app import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, build_parser, main

__all__ = ["EXIT_NOT_FOUND", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE", "build_parser", "main"]
