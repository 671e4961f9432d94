"""``mds``, the scripting client of the mds daemon (docs/cli.md).

Layout: ``spec`` (commands as data), ``commands`` (one function per daemon call),
``render`` (human output), ``output`` (``-o json|jsonl|yaml|ids``), ``options`` (argument
types), ``exits`` (exit statuses), ``contexts`` (``mds context``, no daemon involved),
``app`` (parser and runner), ``completion`` and ``docs`` (generated from the parser, via
``introspect``).
"""

from __future__ import annotations

from .app import build_parser, main
from .exits import (
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_DENIED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_TIMEOUT",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
