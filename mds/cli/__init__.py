"""``mds``, the scripting client of the mds daemon (docs/cli.md).

Layout: ``spec`` (commands as data), ``commands`` (one function per daemon call),
``render`` (human output), ``output`` (``-o json|jsonl|yaml|ids``), ``options`` (argument
types), ``exits`` (exit statuses), ``contexts`` (``mds context``, no daemon involved),
``app`` (parser and runner), ``completion`` and ``docs`` (generated from the parser, via
``introspect``).

This package imports ``app`` only when it runs a command: ``mds --version`` alone is
answered from a constant, with nothing else imported (it took 190 ms through the parser,
the commands and the package metadata).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mds.wire import __version__

from .exits import (
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    import argparse

    from .app import Connect

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


def build_parser() -> argparse.ArgumentParser:
    """The whole ``mds`` parser (``app.build_parser``)."""
    from .app import build_parser

    return build_parser()


def main(argv: Sequence[str] | None = None, *, connect: Connect | None = None) -> int:
    """The ``mds`` entry point; returns the exit status. ``connect`` picks the client for
    a target (``app.connect_to``; tests pass one on an in-process app)."""
    given = sys.argv[1:] if argv is None else list(argv)
    if given == ["--version"]:  # what the parser's version action prints, without the parser
        print(f"mds {__version__}")
        return EXIT_OK
    from . import app

    return app.main(given, connect=connect or app.connect_to)
