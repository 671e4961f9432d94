"""What the guides show a newcomer: the command lines to copy, the ids they ask about and the
search filters they use, read from README.md, docs/ and every ``mds ... --help`` example.

Shared by the checks that those commands parse (tests/cli/test_cli_docs.py), that the ids
are in every generated world (tests/test_docs.py) and that the demo answers them
(tests/e2e/test_docs_examples.py).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

from mds.cli import build_parser
from mds.cli.introspect import commands

ROOT = Path(__file__).resolve().parents[1]
#: the documents whose command lines a newcomer copies
GUIDES = ("README.md", "docs/api.md", "docs/cli.md", "tui/README.md")
_PROGRAM = re.compile(r"^(?:\.venv/bin/)?(mds|mdsd|mds-tui)$")
#: ends a command in a shell line: what follows is another program or a redirection
_SHELL = {"|", "||", "&&", ";", ">", ">>"}
_PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*(?:\.\.\.)?")
#: an id of the reference platform's sources (contract 1.3), not a pattern like aip://KIND/...
_REFERENCE_ID = re.compile(
    r"aip://[a-z-]+/(?:registry|orchestrator|featurestore|experiments|datasets|identity)"
    r"/[\w.@/-]*\w"
)
#: search filters naming an owner or a tag (``owner:alice``, ``tag:team=personalization``)
_FILTER = re.compile(r"\b(owner|tag):([\w-]+(?:=[\w-]+)?)")
#: filters on what only MLflow's data carries (README, Connecting MLflow): aliases
MLFLOW_ONLY = frozenset({("tag", "alias=champion")})


def _commands_in(words: list[str]) -> Iterator[list[str]]:
    """Each ``mds``/``mdsd``/``mds-tui`` invocation among a shell line's words."""
    for start, word in enumerate(words):
        found = _PROGRAM.match(word)
        if found and (start == 0 or words[start - 1] in _SHELL):
            rest = words[start + 1 :]
            end = next((i for i, w in enumerate(rest) if w in _SHELL), len(rest))
            yield [found.group(1), *rest[:end]]


def _shell_lines(text: str) -> Iterator[list[str]]:
    """The words of each line of the ``sh`` blocks (a quote may span lines), and of each
    inline `mds ...` span without alternatives (``a|b``), its placeholders filled in."""
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        pending = ""
        for line in block.splitlines():
            pending += line + "\n"
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                continue
            pending = ""
            yield words
    for span in re.findall(r"`((?:mds|mdsd|mds-tui) [^`|]*)`", text):
        yield [_example(w) if _PLACEHOLDER.fullmatch(w) else w for w in shlex.split(span)]


def _example(placeholder: str) -> str:
    """A value standing for ``placeholder`` (COMMAND, FILE, ID...) in a command line."""
    return "status" if placeholder == "COMMAND" else "1"


def _help_examples() -> Iterator[tuple[str, str]]:
    """(``mds NAME --help``, one example line) for every command."""
    for view in commands(build_parser()):
        for line in view.epilog.partition("examples:")[2].splitlines():
            yield f"mds {view.name} --help", line


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command line in the guides and the help examples."""
    found = [
        (guide, argv)
        for guide in GUIDES
        for words in _shell_lines((ROOT / guide).read_text())
        for argv in _commands_in(words)
    ]
    found += [
        (where, argv)
        for where, line in _help_examples()
        for argv in _commands_in(shlex.split(line, comments=True))
    ]
    return found


def _texts() -> Iterator[str]:
    yield from ((ROOT / guide).read_text() for guide in GUIDES)
    yield from (line for _, line in _help_examples())


def documented_ids() -> set[str]:
    """Every entity id of the reference platform the guides and help examples name."""
    return {xid for text in _texts() for xid in _REFERENCE_ID.findall(text)}


def documented_filters() -> set[tuple[str, str]]:
    """Every ``owner:`` and ``tag:`` search filter the guides and help examples use, but
    those on MLflow's own data."""
    found = {(key, value) for text in _texts() for key, value in _FILTER.findall(text)}
    return found - MLFLOW_ONLY


#: what only a source the demo does not run has: its ids, its kinds
_OTHER_SOURCES = re.compile(r"aip://[a-z-]+/(?:mlflow|feast)/|^feature-(?:view|service)$")


def is_for_other_sources(argv: list[str]) -> bool:
    """Whether a command line asks about what only MLflow or Feast holds (the README's
    sections on connecting them), which the demo's reference platform has none of."""
    if any(f"{key}:{value}" in word for word in argv for key, value in MLFLOW_ONLY):
        return True
    return any(_OTHER_SOURCES.search(word) for word in argv)
