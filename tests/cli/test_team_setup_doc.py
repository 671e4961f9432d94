"""The README's team setup, run as written: alice's `mds` lines against a daemon over TLS
with a private CA and her read token, each ending as the README says (exit 0 unless a
comment says `exit N`). The `mdsd` lines are held to mdsd's parser with every other
documented command line (test_cli_docs)."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import pytest
from fake_mdsd import FULL, FakeDaemon
from remote_fake import READ, remote_daemon

from mds.cli import main
from tests.doc_examples import ROOT

SECTION = "### Team setup: one daemon for everyone"
#: what alice's lines name, and what the test stands in for them
SERVER, TOKEN, CA = (
    "https://mds.example.com:8443",
    "~/.config/mds/team.token",
    "~/.config/mds/team-ca.pem",
)


def team_setup() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    return text[start : text.index("\n### ", start + len(SECTION))]


def mds_lines() -> list[tuple[list[str], int]]:
    """(argv after `mds`, the exit status the README gives it) of each `mds` line."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", team_setup(), re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            words = shlex.split(command)
            if words[:1] == ["mds"]:
                said = re.search(r"\bexit (\d+)", comment)
                found.append((words[1:], int(said.group(1)) if said else 0))
    return found


def test_the_section_shows_the_config_tokens_context_and_a_refused_write() -> None:
    text = team_setup()
    assert '[api]\nlisten = "0.0.0.0:8443"' in text
    assert "mdsd token create alice --scope read" in text
    lines = mds_lines()
    assert [argv[:2] for argv, _ in lines][:2] == [["context", "add"], ["context", "use"]]
    assert any(code == 4 for _, code in lines)


def test_alices_lines_run_as_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.jsonl").write_text('{"event_type": "model_updated", "model_id": "m"}\n')
    token = tmp_path / "team.token"
    token.write_text(READ + "\n")
    token.chmod(0o600)
    with remote_daemon(FakeDaemon(copy.deepcopy(FULL)), tmp_path) as remote:
        stand_in = {SERVER: remote.url, TOKEN: str(token), CA: str(remote.cacert)}
        for argv, expected in mds_lines():
            code = main([stand_in.get(word, word) for word in argv])
            err = capsys.readouterr().err
            assert code == expected, f"mds {shlex.join(argv)}: {err}"
        assert set(remote.app.authorizations) == {f"Bearer {READ}"}
