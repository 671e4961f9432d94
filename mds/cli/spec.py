"""Commands as data: one ``@command`` per daemon call, so the parser, the help, the shell
completion and ``docs/cli.md`` all come from the same table and cannot drift apart."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

from mds.calls import Api
from mds.wire import JSON

if TYPE_CHECKING:
    from mds.client import Client


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


#: a command that is one question: the client's answer (on the socket client the answer
#: itself, on the async client an awaitable of it)
Ask = Callable[[Api[Any], argparse.Namespace], Any]
#: a command that needs the async client (``ingest``, which may send its input in parts)
Call = Callable[["Client", argparse.Namespace], Awaitable[JSON]]
#: a command that follows the daemon (``watch``): each answer as it comes
Stream = Callable[["Client", argparse.Namespace], AsyncIterator[JSON]]
Render = Callable[[JSON, argparse.Namespace, Out], None]
#: (exit code, message for stderr) once the daemon answered; most commands are always 0
Verdict = Callable[[JSON, argparse.Namespace], tuple[int, str | None]]


F = TypeVar("F", Ask, Call, Stream)
#: ``-o jsonl`` writes one line per record; ``-o ids`` the ids they name
Records = Callable[[JSON], list[Any]]


def succeeded(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    return 0, None


def whole(doc: JSON) -> list[Any]:
    """The answer is one record (``show``, ``status``)."""
    return [doc]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    description: str
    examples: tuple[str, ...]
    args: tuple[Arg, ...]
    #: exactly one of ``ask`` (one question), ``call`` (one answer, the async client) and
    #: ``stream`` (answers as they come)
    ask: Ask | None
    call: Call | None
    stream: Stream | None
    render: Render
    reads_graph: bool
    verdict: Verdict = succeeded
    #: a mutually exclusive group that must be given (``redrive IDS | --all``)
    one_of: tuple[Arg, ...] = field(default=())
    #: the answer's records, one JSON line each with ``-o jsonl``
    records: Records = whole
    #: the ids the answer names, one a line with ``-o ids``; None: it names none
    ids: Records | None = None
    #: ``-o`` formats that draw the answer as a graph (``mds lineage``), by name
    drawings: Mapping[str, Render] = field(default_factory=dict)

    @property
    def epilog(self) -> str:
        return "examples:\n" + "\n".join(f"  {line}" for line in self.examples)


COMMANDS: dict[str, Command] = {}


def ids_of(records: Records, key: str = "id") -> Records:
    """The ``key`` of each record that has one, each id once, in order."""

    def ids(doc: JSON) -> list[Any]:
        found = (r.get(key) for r in records(doc) if isinstance(r, dict))
        return list(dict.fromkeys(i for i in found if i is not None))

    return ids


def listed(key: str) -> Records:
    """The records are the list at ``doc[key]``."""
    return lambda doc: list(doc.get(key) or [])


def command(
    name: str,
    *,
    examples: tuple[str, ...],
    render: Render,
    args: tuple[Arg, ...] = (),
    one_of: tuple[Arg, ...] = (),
    reads_graph: bool = False,
    verdict: Verdict = succeeded,
    records: Records = whole,
    ids: Records | None = None,
    drawings: Mapping[str, Render] | None = None,
) -> Callable[[F], F]:
    """Register a command; its docstring is its help (first line: the summary). An async
    generator follows the daemon (``stream``); a coroutine asks once with the async client
    (``call``); a plain function asks any client one question (``ask``). Without
    ``ids``, a command whose ``records`` are a list of the answer names their ids."""

    def register(call: F) -> F:
        doc = inspect.getdoc(call) or ""
        summary = doc.partition("\n")[0]
        if not summary or not examples:
            raise ValueError(f"command {name!r} needs a docstring and at least one example")
        streams = inspect.isasyncgenfunction(call)
        awaits = inspect.iscoroutinefunction(call)
        COMMANDS[name] = Command(
            name=name,
            summary=summary.rstrip("."),
            description=doc,
            examples=examples,
            args=args,
            ask=None if streams or awaits else cast(Ask, call),
            call=cast(Call, call) if awaits else None,
            stream=cast(Stream, call) if streams else None,
            render=render,
            reads_graph=reads_graph,
            verdict=verdict,
            one_of=one_of,
            records=records,
            ids=ids if ids is not None or records is whole else ids_of(records),
            drawings=drawings or {},
        )
        return call

    return register
