"""Help, docs/cli.md and shell completion are complete and current for every command."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mds.cli import build_parser
from mds.cli.completion import script
from mds.cli.docs import REGENERATE, anchor, markdown
from mds.cli.introspect import commands
from mds.cli.options import SHELLS
from tests.doc_examples import ROOT, documented_commands

VIEWS = commands(build_parser())


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_every_command_is_documented_in_its_help(view) -> None:  # type: ignore[no-untyped-def]
    assert view.summary, f"{view.name} has no description"
    assert f"mds {view.name}" in view.epilog.partition("examples:")[2], f"{view.name}: no example"
    undocumented = [p.usage() for p in view.params if not p.help]
    assert not undocumented, f"{view.name}: arguments without help: {undocumented}"


def test_docs_cli_md_is_current() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == markdown(build_parser()), f"docs/cli.md is stale: run `{REGENERATE}`"


def test_docs_cli_md_has_a_section_per_command() -> None:
    text = markdown(build_parser())
    for view in VIEWS:
        assert f"\n## mds {view.name}\n" in text
        assert f"(#{anchor(view.name)})" in text


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_names_every_command_and_option(shell: str) -> None:
    text = script(build_parser(), shell)
    for view in VIEWS:
        assert view.name.rpartition(" ")[2] in text  # `context add`: add, in context's branch
        for param in view.params:
            for flag in param.flags:
                assert flag.lstrip("-") in text


@pytest.mark.parametrize(
    ("shell", "check"), [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")]
)
def test_completion_script_parses(shell: str, check: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = tmp_path / f"mds.{shell}"
    path.write_text(script(build_parser(), shell))
    result = subprocess.run([shell, check, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bash_completion_completes_commands_and_choices(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    path = tmp_path / "mds.bash"
    path.write_text(script(build_parser(), "bash"))
    probe = f"""
        source {path}
        complete_words() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _mds; echo "${{COMPREPLY[*]}}"; }}
        complete_words mds --json lin
        complete_words mds lineage X --direction ""
        complete_words mds search --type model-
        complete_words mds context ""
        complete_words mds context add team --c
        complete_words mds status -o j
    """
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True).stdout
    assert out.splitlines() == [
        "lineage",
        "upstream downstream",
        "model-instance",
        "add use ls rm -h --help",
        "--cacert",
        "json jsonl",
    ]


def _parsers() -> dict[str, Callable[[], argparse.ArgumentParser]]:
    from mdsd.__main__ import _parser as mdsd_parser
    from tui.__main__ import build_parser as tui_parser

    return {"mds": build_parser, "mdsd": mdsd_parser, "mds-tui": tui_parser}


@pytest.mark.parametrize(
    ("where", "argv"),
    documented_commands(),
    ids=lambda v: v if isinstance(v, str) else shlex.join(v),
)
def test_every_documented_command_line_parses(where: str, argv: list[str]) -> None:
    """An option renamed or a command dropped fails here, not in a newcomer's terminal."""
    program, *args = argv
    try:
        _parsers()[program]().parse_args(args)
    except SystemExit as exit_:  # --help and --version exit 0
        assert exit_.code == 0, f"{where}: `{shlex.join(argv)}` does not parse"
