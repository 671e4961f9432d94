"""Commands as data: one ``@command`` per daemon call, so the parser, the help, the shell
completion and ``docs/cli.md`` all come from the same table and cannot drift apart."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from mds.client import Client
from mds.wire import JSON


class UsageError(Exception):
    """The invocation cannot work (unreadable input file, bad JSON argument): exit 2."""


@dataclass(frozen=True, slots=True)
class Arg:
    """One ``add_argument`` call kept as data."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]

    def add_to(self, parser: argparse._ActionsContainer) -> argparse.Action:
        """Add to a parser or a group (mutually exclusive groups are containers too)."""
        return parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True, slots=True)
class Out:
    """Where a renderer writes: ``line`` for the answer (stdout), ``note`` for remarks."""

    stdout: TextIO
    stderr: TextIO

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        print(f"mds: {text}", file=self.stderr)


Call = Callable[[Client, argparse.Namespace], Awaitable[JSON]]
Render = Callable[[JSON, argparse.Namespace, Out], None]
#: (exit code, message for stderr) once the daemon answered; most commands are always 0
Verdict = Callable[[JSON, argparse.Namespace], tuple[int, str | None]]


def succeeded(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    return 0, None


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    description: str
    examples: tuple[str, ...]
    args: tuple[Arg, ...]
    call: Call
    render: Render
    reads_graph: bool
    verdict: Verdict = succeeded
    #: a mutually exclusive group that must be given (``redrive IDS | --all``)
    one_of: tuple[Arg, ...] = field(default=())

    @property
    def epilog(self) -> str:
        return "examples:\n" + "\n".join(f"  {line}" for line in self.examples)


COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    *,
    examples: tuple[str, ...],
    render: Render,
    args: tuple[Arg, ...] = (),
    one_of: tuple[Arg, ...] = (),
    reads_graph: bool = False,
    verdict: Verdict = succeeded,
) -> Callable[[Call], Call]:
    """Register a command; its docstring is its help (first line: the summary)."""

    def register(call: Call) -> Call:
        doc = inspect.getdoc(call) or ""
        summary = doc.partition("\n")[0]
        if not summary or not examples:
            raise ValueError(f"command {name!r} needs a docstring and at least one example")
        COMMANDS[name] = Command(
            name=name,
            summary=summary.rstrip("."),
            description=doc,
            examples=examples,
            args=args,
            call=call,
            render=render,
            reads_graph=reads_graph,
            verdict=verdict,
            one_of=one_of,
        )
        return call

    return register
