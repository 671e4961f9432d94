"""``docs/cli.md``: the command reference, generated from the parser so that it is
complete by construction; a test fails when the committed file is out of date.

Regenerate with ``python -m mds --markdown-help > docs/cli.md``.
"""

from __future__ import annotations

import argparse

from .introspect import CommandView, Param, commands, global_params

REGENERATE = "python -m mds --markdown-help > docs/cli.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _params_table(params: tuple[Param, ...]) -> list[str]:
    rows = ["| argument | meaning |", "|---|---|"]
    for p in params:
        name = (
            p.usage()
            if p.positional
            else ", ".join(p.flags) + (f" {p.metavar}" if p.metavar else "")
        )
        rows.append(f"| `{_cell(name)}` | {_cell(p.help)} |")
    return rows


def anchor(name: str) -> str:
    """The heading's anchor, as GitHub makes it: ``mds context add`` -> ``mds-context-add``."""
    return "mds-" + name.replace(" ", "-")


def _command(view: CommandView, shared: set[str]) -> list[str]:
    own = tuple(p for p in view.params if not shared.intersection(p.flags))
    return [
        f"## mds {view.name}",
        "",
        view.description,
        "",
        "```",
        view.usage(),
        "```",
        "",
        *([*_params_table(own), ""] if own else []),
        "```",
        view.epilog,
        "```",
        "",
    ]


def markdown(parser: argparse.ArgumentParser) -> str:
    views = commands(parser)
    common = global_params(parser)
    #: shown once at the top rather than in every command's table
    shared = {flag for p in common for flag in p.flags}
    lines = [
        "# `mds` command reference",
        "",
        f"<!-- Generated from the parser by `{REGENERATE}`; do not edit. -->",
        "",
        parser.description or "",
        "",
        "```",
        " ".join(["mds", *(f"[{p.usage()}]" for p in common), "COMMAND ..."]),
        "```",
        "",
        *_params_table(common),
        "",
        "These are accepted before or after the command, by every command that talks to the"
        " daemon; `mds context ls` takes `-o` and `--json` too.",
        "",
        "```",
        parser.epilog or "",
        "```",
        "",
        "| command | what it does |",
        "|---|---|",
        *[f"| [`{v.name}`](#{anchor(v.name)}) | {_cell(v.summary)} |" for v in views],
        "",
    ]
    for view in views:
        lines += _command(view, shared)
    return "\n".join(lines).rstrip("\n") + "\n"
