"""``mds context add|use|ls|rm``: named daemons to talk to, kept in
``$XDG_CONFIG_HOME/mds/contexts.toml`` (``mds.contexts``). No daemon is asked: adding a
context checks what can be checked here (the URL, the token file's mode, the CA file)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mds.contexts import (
    DEFAULT,
    Context,
    ContextError,
    Contexts,
    UnknownContext,
    contexts_path,
    load,
    save,
)
from mds.target import TargetError, read_token_file, resolve_socket, server_url
from mds.wire import JSON

from . import output, render
from .exits import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from .spec import Arg, Out, UsageError, arg, ids_of, listed

NAME = "context"
DESCRIPTION = """\
Keep named daemons to talk to: a server URL, its token file and CA file.

Like docker and kubectl contexts. `mds context use NAME` makes one current: mds and
mds-tui then talk to it when no flag or environment variable names a daemon. The
context `default` is the local socket. Kept in $XDG_CONFIG_HOME/mds/contexts.toml
(mode 0600), which holds the paths, never the tokens."""

SubParser = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]", str, str, str],
    argparse.ArgumentParser,
]
CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    description: str
    examples: tuple[str, ...]
    args: tuple[Arg, ...]
    run: Callable[[argparse.Namespace, Out], int]


def _name(value: str) -> str:
    if not CONTEXT_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: a name is letters, digits, '_', '.', '-'")
    return value


def _absolute(value: str) -> Path:
    return Path(value).expanduser().absolute()


def _add(args: argparse.Namespace, out: Out) -> int:
    if args.context_name == DEFAULT:
        raise UsageError(f"{DEFAULT} is the local socket; name the context otherwise")
    try:
        server = server_url(args.add_server)
        read_token_file(args.add_token_file)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    if args.add_cacert is not None and not args.add_cacert.is_file():
        raise UsageError(f"CA file {args.add_cacert} does not exist")
    kept = load()
    context = Context(args.context_name, server, args.add_token_file, args.add_cacert)
    path = save(replace(kept, contexts={**kept.contexts, context.name: context}))
    verb = "replaced" if context.name in kept.contexts else "added"
    out.line(f"{verb} context {context.name} ({server}) in {path}")
    if kept.current != context.name:
        out.line(f"use it with: mds context use {context.name}")
    return EXIT_OK


def _use(args: argparse.Namespace, out: Out) -> int:
    kept = load()
    name = args.context_name
    if name != DEFAULT:
        kept.get(name)
    save(replace(kept, current=None if name == DEFAULT else name))
    where = resolve_socket() if name == DEFAULT else kept.contexts[name].server
    out.line(f"now using context {name} ({where})")
    return EXIT_OK


def _rm(args: argparse.Namespace, out: Out) -> int:
    kept = load()
    name = args.context_name
    if name == DEFAULT:
        raise UsageError(f"{DEFAULT} is the local socket; it cannot be removed")
    kept.get(name)
    left = {k: v for k, v in kept.contexts.items() if k != name}
    current = None if kept.current == name else kept.current
    save(Contexts(left, current))
    out.line(f"removed context {name}")
    if kept.current == name:
        out.note(f"it was the current context: now using {DEFAULT} ({resolve_socket()})")
    return EXIT_OK


def listing(kept: Contexts) -> JSON:
    """``mds context ls -o json``: every context, ``default`` (the local socket) first."""
    current = kept.current or DEFAULT
    rows: list[JSON] = [
        {"name": DEFAULT, "current": current == DEFAULT, "socket": str(resolve_socket())}
    ]
    for c in sorted(kept.contexts.values(), key=lambda c: c.name):
        row: JSON = {"name": c.name, "current": current == c.name, "server": c.server}
        row["token_file"] = str(c.token_file) if c.token_file else None
        row["cacert"] = str(c.cacert) if c.cacert else None
        rows.append(row)
    return {"current": current, "file": str(contexts_path()), "contexts": rows}


LISTED = listed("contexts")
NAMES = ids_of(LISTED, "name")


def _ls(args: argparse.Namespace, out: Out) -> int:
    fmt = args.output or "table"
    output.check(f"{NAME} ls", NAMES, fmt)
    doc = listing(load())
    if fmt != "table":
        output.write(fmt, doc, out, records=LISTED, ids=NAMES)
        return EXIT_OK
    rows = [
        (
            "*" if c["current"] else "",
            c["name"],
            c.get("server") or c.get("socket"),
            c.get("token_file"),
            c.get("cacert"),
        )
        for c in doc["contexts"]
    ]
    render.table(out, ("CURRENT", "NAME", "SERVER", "TOKEN FILE", "CA FILE"), rows)
    return EXIT_OK


CONTEXT = arg("context_name", metavar="NAME", type=_name, help="the context's name")
ACTIONS = (
    Action(
        "add",
        "Add a context (or replace the one of that name); it checks the token file is yours alone.",
        (
            "mds context add team --server https://mds.example.com:8443 "
            "--token-file ~/.config/mds/team.token --cacert ~/.config/mds/team-ca.pem",
        ),
        (
            CONTEXT,
            arg(
                "--server",
                dest="add_server",
                metavar="URL",
                required=True,
                help="the daemon's URL, https://HOST:PORT",
            ),
            arg(
                "--token-file",
                dest="add_token_file",
                metavar="FILE",
                type=_absolute,
                required=True,
                help="the file holding its token (mode 0600)",
            ),
            arg(
                "--cacert",
                dest="add_cacert",
                metavar="FILE",
                type=_absolute,
                help="the CA that signed its certificate, for a private CA",
            ),
        ),
        _add,
    ),
    Action(
        "use",
        "Make NAME the current context (default: back to the local socket).",
        ("mds context use team", "mds context use default"),
        (CONTEXT,),
        _use,
    ),
    Action(
        "ls",
        "List the contexts; * marks the current one.",
        ("mds context ls", "mds context ls -o ids"),
        (),
        _ls,
    ),
    Action("rm", "Remove a context.", ("mds context rm team",), (CONTEXT,), _rm),
)


def add_to(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    subparser: SubParser,
    formats: tuple[Arg, ...],
) -> None:
    """Add ``mds context`` and its actions; ``formats`` are ``-o``/``--json`` for ``ls``."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for a in ACTIONS for e in a.examples)
    group = subparser(subparsers, NAME, DESCRIPTION, epilog)
    actions = group.add_subparsers(
        dest="context_action", metavar="ACTION", title="actions", required=True
    )
    for action in ACTIONS:
        epilog = "examples:\n" + "\n".join(f"  {e}" for e in action.examples)
        sub = subparser(actions, action.name, action.description, epilog)
        sub.set_defaults(context_run=action.run)
        for spec in action.args:
            spec.add_to(sub)
        for spec in formats if action.name == "ls" else ():
            # SUPPRESS: `mds -o json context ls` keeps the -o given before the command
            Arg(spec.flags, {**spec.options, "default": argparse.SUPPRESS}).add_to(sub)


def run(args: argparse.Namespace, out: Out) -> int:
    try:
        code: int = args.context_run(args, out)
        return code
    except UsageError as exc:
        out.note(str(exc))
        return EXIT_USAGE
    except UnknownContext as exc:
        out.note(str(exc))
        return EXIT_NOT_FOUND
    except ContextError as exc:
        out.note(str(exc))
        return EXIT_USAGE
