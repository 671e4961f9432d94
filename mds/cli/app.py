"""The ``mds`` parser and runner: one subcommand per registered command, one place that
turns daemon answers and failures into output and exit codes.

A question to the local daemon goes through the socket client (``mds.socket_client``), so
``mds show`` imports neither asyncio nor httpx (249 ms before, most of it those imports);
a team's daemon over HTTPS, ``ingest`` and ``watch`` take the async client, imported then.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from mds.calls import Api
from mds.errors import AccessDenied, ApiError, ClientError, DaemonUnavailable
from mds.socket_client import SocketClient
from mds.target import Target, TargetError, of_options
from mds.wire import JSON, __version__
from mds.wire.moments import AS_OF_HELP, KNOWN_AT_HELP, VALID_TIME_HELP, AsOfError, axes_of

from . import commands as _commands  # noqa: F401  (registers the commands)
from . import contexts, options, output
from .exits import (
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_STATUS_HELP,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from .render import as_of_footer
from .spec import COMMANDS, Arg, Command, Out, UsageError, arg

if TYPE_CHECKING:
    from mds.client import Client

#: how the CLI reaches the daemon; tests pass ``lambda target: Client(app=fake)``
Connect = Callable[[Target], Api[Any]]


def connect_to(target: Target) -> Api[Any]:
    """The socket client for a local daemon, the async client for a team's."""
    if target.socket is not None:
        return SocketClient(target)
    return async_client(target)


def async_client(target: Target) -> Client:
    """The async client, httpx and all: imported only by the commands that need it."""
    from mds.client import Client

    return Client(target=target)


OUTPUT = (
    arg(
        "-o",
        "--output",
        metavar="FORMAT",
        choices=output.FORMATS,
        help="how to print the answer: table (text; the default), json (the daemon's "
        "answer), jsonl (one line per result), yaml, or ids (one a line)",
    ),
    arg("--json", dest="output", action="store_const", const="json", help="the same as -o json"),
)
COMMON: tuple[Arg, ...] = (
    *OUTPUT,
    arg(
        "--server",
        metavar="URL",
        help="a team's daemon, https://HOST:PORT (default: $MDS_SERVER, else the current "
        "context, else the local socket)",
    ),
    arg(
        "--token-file",
        metavar="FILE",
        help="the token for --server, in a file only you may read (default: $MDS_TOKEN, "
        "else the context's)",
    ),
    arg(
        "--cacert",
        metavar="FILE",
        help="the CA that signed the server's certificate, for a private CA (default: "
        "$MDS_CACERT, else the context's)",
    ),
    arg("--context", metavar="NAME", help="the daemon of context NAME (see mds context)"),
    arg(
        "--socket",
        metavar="PATH",
        help="the daemon's socket (default: $MDS_SOCKET, else $XDG_RUNTIME_DIR/mds/mdsd.sock, "
        "else ~/.local/share/mds/run/mdsd.sock)",
    ),
)
AS_OF = arg(
    "--as-of",
    metavar="WHEN",
    type=options.as_of,
    help=f"{VALID_TIME_HELP}. WHEN is {AS_OF_HELP}; tx:N reads as mds knew it at "
    "transaction N, valid at that transaction's time",
)
KNOWN_AT = arg(
    "--known-at",
    metavar="WHEN",
    type=options.known_at,
    help=f"{KNOWN_AT_HELP}. WHEN as for --as-of",
)

DESCRIPTION = """\
mds: ask the mds daemon (mdsd) about the ML model lifecycle graph, and feed it events.

Every command talks to a running mdsd, on its Unix socket or a team's over HTTPS
(--server, or a context), and prints text for people, or with -o json|jsonl|yaml|ids
what scripts take. `mds COMMAND --help` shows a command's options and examples."""

EPILOG = f"""\
{EXIT_STATUS_HELP}

target: flags over the environment over the current context over the local socket
  MDS_SERVER  a team's daemon, when no flag names one
  MDS_TOKEN   the token sent to it, when --token-file is not given
  MDS_CACERT  the CA file, when --cacert is not given
  MDS_SOCKET  the daemon's socket, when --socket is not given

time travel:
  --as-of WHEN is valid time: the graph as it was at WHEN in the sources, reaching back
  before mds started. --known-at WHEN is system time: what mds had recorded by WHEN. They
  combine; --as-of tx:N means --known-at tx:N, valid at that transaction's time.

examples:
  mds search ranking --type model
  mds show aip://model/registry/ranking-model --as-of 2025-01-01
  mds show aip://model/registry/ranking-model --as-of 2025-01-01 --known-at 1m
  mds lineage aip://dataset/datasets/playback-events --direction downstream
  mds search '*' --type model -o ids | xargs -I{{}} mds impact {{}} -o jsonl
  mds --context team status
  mds completion bash > ~/.local/share/bash-completion/completions/mds"""

COMPLETION_DESCRIPTION = """\
Print a completion script for your shell (commands, options and their choices).

Load it from your shell's startup file or completion directory, as in the examples."""

COMPLETION_EXAMPLES = (
    "mds completion bash > ~/.local/share/bash-completion/completions/mds",
    "mds completion zsh > ~/.zfunc/_mds    # with fpath+=(~/.zfunc) before compinit",
    "mds completion fish > ~/.config/fish/completions/mds.fish",
)


def _subparser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=description.partition("\n")[0].rstrip("."),
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], cmd: Command
) -> None:
    sub = _subparser(subparsers, cmd.name, cmd.description, cmd.epilog)
    for spec in cmd.args:
        spec.add_to(sub)
    if cmd.one_of:
        group = sub.add_mutually_exclusive_group(required=True)
        for spec in cmd.one_of:
            spec.add_to(group)
    if cmd.reads_graph:
        AS_OF.add_to(sub)
        KNOWN_AT.add_to(sub)
    for spec in COMMON:
        # SUPPRESS: given after the command it wins, given before it is kept
        options = {**spec.options, "default": argparse.SUPPRESS}
        if "-o" in spec.flags and cmd.drawings:  # its own formats: it draws its answer
            drawn = ", ".join(cmd.drawings)
            options["choices"] = (*output.FORMATS, *cmd.drawings)
            options["help"] = f"{options['help']}; or drawn: {drawn}"
        Arg(spec.flags, options).add_to(sub)


@functools.cache
def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole ``mds`` parser, or with ``only`` the parser of that one command (what
    ``command_in`` found): argparse needs ~10-25 ms for all of them, mostly gettext
    look-ups, where one command's start should cost a few. Built once per process and
    never mutated by parsing."""
    parser = argparse.ArgumentParser(
        prog="mds",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for spec in COMMON:
        spec.add_to(parser)
    parser.add_argument("--version", action="version", version=f"mds {__version__}")
    parser.add_argument("--markdown-help", action="store_true", help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for cmd in COMMANDS.values():
        if only in (None, cmd.name):
            _add_command(subparsers, cmd)
    if only in (None, contexts.NAME):
        contexts.add_to(subparsers, _subparser, OUTPUT)
    if only in (None, "completion"):
        epilog = "examples:\n" + "\n".join(f"  {line}" for line in COMPLETION_EXAMPLES)
        sub = _subparser(subparsers, "completion", COMPLETION_DESCRIPTION, epilog)
        sub.add_argument("shell", choices=options.SHELLS, help="the shell to complete for")
    return parser


#: the options before a command that take a value as the next word (``--socket PATH``)
_VALUED = frozenset(
    flag for spec in COMMON if spec.options.get("action") is None for flag in spec.flags
)


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, as argparse will read it: its first word that is neither
    an option nor an option's value; None when that is no command (the whole parser then
    says what is wrong) or there is none (``mds --help``)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            known = (*COMMANDS, contexts.NAME, "completion")
            return word if word in known else None
    return None


def _api_failure(error: ApiError) -> tuple[int, str]:
    if isinstance(error, AccessDenied):
        return EXIT_DENIED, error.message
    if error.status == 404:
        return EXIT_NOT_FOUND, error.message
    if 400 <= error.status < 500:
        return EXIT_USAGE, error.message
    if error.status == 503:
        return EXIT_UNAVAILABLE, f"mdsd is not ready yet ({error.message}); try again shortly"
    return EXIT_UNAVAILABLE, f"mdsd failed ({error.status} {error.code}): {error.message}"


def target_of(args: argparse.Namespace) -> Target:
    """The daemon the flags, the environment and the contexts name (``mds.target``)."""
    try:
        return of_options(args)
    except TargetError as exc:
        raise UsageError(str(exc)) from None


def _checked_moments(cmd: Command, args: argparse.Namespace) -> None:
    if cmd.reads_graph:
        try:  # each moment is good alone (options); together they may still disagree
            axes_of(args.as_of, args.known_at)
        except AsOfError as exc:
            raise UsageError(str(exc)) from None


def _show(cmd: Command, doc: JSON, args: argparse.Namespace, out: Out, fmt: str) -> None:
    if fmt in cmd.drawings:
        cmd.drawings[fmt](doc, args, out)
        return
    if fmt != "table":
        output.write(fmt, doc, out, records=cmd.records, ids=cmd.ids)
        return
    cmd.render(doc, args, out)
    if cmd.reads_graph:
        as_of_footer(doc, out)


def _shown(cmd: Command, doc: JSON, args: argparse.Namespace, out: Out) -> int:
    """Print the answer and decide the exit status."""
    _show(cmd, doc, args, out, args.output or "table")
    status, remark = cmd.verdict(doc, args)
    if remark:
        out.note(remark)
    return status


async def _awaited(cmd: Command, args: argparse.Namespace, client: Client) -> JSON:
    async with client:
        if cmd.call is not None:
            return await cmd.call(client, args)
        assert cmd.ask is not None
        answer: JSON = await cmd.ask(client, args)
        return answer


async def _follow(cmd: Command, args: argparse.Namespace, client: Client, out: Out) -> int:
    """Print each answer of a stream as it comes, flushed: ``mds watch | jq`` sees it."""
    assert cmd.stream is not None
    fmt = args.output or "table"
    async with client:
        async for number, doc in _numbered(cmd.stream(client, args)):
            if fmt == "table":
                cmd.render(doc, args, out)
            else:
                output.write(fmt, doc, out, records=cmd.records, ids=cmd.ids, first=number == 0)
            out.stdout.flush()
    return EXIT_OK


async def _numbered(docs: AsyncIterator[JSON]) -> AsyncIterator[tuple[int, JSON]]:
    number = 0
    async for doc in docs:
        yield number, doc
        number += 1


def _answered(cmd: Command, args: argparse.Namespace, connect: Connect, out: Out) -> int:
    """Ask the daemon: on the socket client when it is one question, else on the async
    client (a stream, an input sent in parts, a team's daemon, a test's app)."""
    client = connect(target_of(args))
    if isinstance(client, SocketClient):
        if cmd.ask is not None:
            with client:
                return _shown(cmd, cmd.ask(client, args), args, out)
        client = async_client(client.target)
    import asyncio

    from mds.client import Client

    assert isinstance(client, Client), "a client is the socket client or the async one"
    if cmd.stream is not None:
        return asyncio.run(_follow(cmd, args, client, out))
    return _shown(cmd, asyncio.run(_awaited(cmd, args, client)), args, out)


def run(cmd: Command, args: argparse.Namespace, connect: Connect, out: Out) -> int:
    """Call the daemon, print its answer, and decide the exit status."""
    try:
        _checked_moments(cmd, args)
        output.check(cmd.name, cmd.ids, args.output or "table")
        return _answered(cmd, args, connect, out)
    except UsageError as exc:
        out.note(str(exc))
        return EXIT_USAGE
    except DaemonUnavailable as exc:
        out.note(str(exc))
        return EXIT_UNAVAILABLE
    except ApiError as exc:
        code, message = _api_failure(exc)
        out.note(message)
        return code
    except ClientError as exc:  # an answer off its documented shape: the daemon's fault
        out.note(str(exc))
        return EXIT_UNAVAILABLE


def main(argv: Sequence[str] | None = None, *, connect: Connect = connect_to) -> int:
    """The ``mds`` entry point; returns the exit status."""
    given = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_in(given))
    try:
        args = parser.parse_args(given)
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    out = Out(sys.stdout, sys.stderr)
    try:
        if args.markdown_help:
            from . import docs  # as completion: generated from the parser, imported only here

            out.stdout.write(docs.markdown(build_parser()))
            return EXIT_OK
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if args.command == "completion":
            from . import completion

            out.stdout.write(completion.script(build_parser(), args.shell))
            return EXIT_OK
        if args.command == contexts.NAME:
            return contexts.run(args, out)
        return run(COMMANDS[args.command], args, connect, out)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mds ... | head`: stop quietly, as other unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a process ended by SIGPIPE
