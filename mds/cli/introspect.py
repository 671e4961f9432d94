"""A plain view of the argparse parser, for generating shell completion and docs/cli.md.

argparse has no public reflection API; this module is the one place that reads its
(long-stable) private attributes, as shtab and argcomplete do.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

#: metavars whose values are paths, completed as files
FILE_METAVARS = frozenset({"FILE", "PATH"})


@dataclass(frozen=True, slots=True)
class Param:
    """One option or positional argument."""

    flags: tuple[str, ...]  # empty for a positional
    metavar: str  # what the value is called; "" for a flag without a value
    help: str
    choices: tuple[str, ...] = ()
    nargs: str | int | None = None
    required: bool = False

    @property
    def positional(self) -> bool:
        return not self.flags

    @property
    def takes_value(self) -> bool:
        return self.positional or bool(self.metavar)

    @property
    def files(self) -> bool:
        return self.metavar in FILE_METAVARS

    def usage(self) -> str:
        """The parameter as argparse's usage line would show it."""
        if self.positional:
            word = self.metavar
            text = {"?": f"[{word}]", "*": f"[{word} ...]", "+": f"{word} [{word} ...]"}
            return text.get(str(self.nargs), word)
        return f"{self.flags[-1]} {self.metavar}".rstrip()


@dataclass(frozen=True, slots=True)
class CommandView:
    name: str
    summary: str
    description: str
    epilog: str
    params: tuple[Param, ...]
    #: groups of which exactly one must be given (``wait --idle``, ``redrive ID... | --all``)
    one_of: tuple[tuple[Param, ...], ...]
    #: a group's commands (``context``: add, use, ls, rm), each a view of its own too
    subcommands: tuple[str, ...] = ()

    def usage(self) -> str:
        if self.subcommands:
            return f"mds {self.name} {{{','.join(self.subcommands)}}} ..."
        grouped = {p for group in self.one_of for p in group}
        parts = [p.usage() for p in self.params if p.positional and p not in grouped]
        parts += ["(" + " | ".join(p.usage() for p in group) + ")" for group in self.one_of]
        parts += [f"[{p.usage()}]" for p in self.params if not p.positional and p not in grouped]
        return " ".join([f"mds {self.name}", *parts])


def _param(action: argparse.Action) -> Param:
    choices = tuple(str(c) for c in action.choices or ())
    if not action.option_strings:
        metavar = str(action.metavar or action.dest)
    elif action.nargs == 0:
        metavar = ""
    elif choices and action.metavar is None:
        metavar = "{" + ",".join(choices) + "}"
    else:
        metavar = str(action.metavar or action.dest.upper())
    return Param(
        flags=tuple(action.option_strings),
        metavar=metavar,
        help=str(action.help or ""),
        choices=choices,
        nargs=action.nargs,
        required=action.required,
    )


def _visible(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)
    ]


def global_params(parser: argparse.ArgumentParser) -> tuple[Param, ...]:
    return tuple(_param(a) for a in _visible(parser))


def _view(name: str, sub: argparse.ArgumentParser, subcommands: tuple[str, ...]) -> CommandView:
    params = {a: _param(a) for a in _visible(sub)}
    one_of = tuple(
        tuple(params[a] for a in group._group_actions if a in params)
        for group in sub._mutually_exclusive_groups
        if group.required
    )
    description = sub.description or ""
    return CommandView(
        name=name,
        summary=description.partition("\n")[0].rstrip("."),
        description=description,
        epilog=sub.epilog or "",
        params=tuple(params.values()),
        one_of=one_of,
        subcommands=subcommands,
    )


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[CommandView]:
    """Every command; a group (``context``) is followed by its commands, named with the
    group's name (``context add``)."""
    views = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            inner = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            subcommands = tuple(n for a in inner for n in a.choices)
            views.append(_view(prefix + name, sub, subcommands))
            if inner:
                views += commands(sub, f"{prefix}{name} ")
    return views


def groups(parser: argparse.ArgumentParser) -> dict[str, tuple[CommandView, ...]]:
    """The commands of each group (``context``: add, use, ls, rm), by the group's name."""
    found: dict[str, list[CommandView]] = {}
    for view in commands(parser):
        group = view.name.rpartition(" ")[0]
        if group:
            found.setdefault(group, []).append(view)
    return {name: tuple(views) for name, views in found.items()}
