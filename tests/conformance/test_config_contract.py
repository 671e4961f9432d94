"""The config of contract 2.1 taken as written: its default socket falls back to data_dir
without ``XDG_RUNTIME_DIR``, and ``config.example.toml`` documents that default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mdsd.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "contract.md"

#: the config block of contract 2.1, verbatim but for the elided source tables
CONTRACT_CONFIG = """\
[daemon]
data_dir = "~/.local/share/mds"        # facts, search index, inbox, dead letters
socket   = "$XDG_RUNTIME_DIR/mds/mdsd.sock"   # default; falls back to data_dir

[sources.registry]
base_url = "http://127.0.0.1:8701"

[enrichment]
interval_seconds = 30

[reconcile]
interval_seconds = 3600
"""


def test_the_contract_config_falls_back_to_data_dir_without_xdg_runtime_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    config = parse_config(CONTRACT_CONFIG)
    assert config.data_dir == Path.home() / ".local" / "share" / "mds"
    assert config.socket_path == config.data_dir / "run" / "mdsd.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")  # empty is unset: not "/mds/mdsd.sock"
    assert parse_config(CONTRACT_CONFIG).socket_path == config.socket_path
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert parse_config(CONTRACT_CONFIG).socket_path == Path("/run/user/1000/mds/mdsd.sock")


def test_an_unset_variable_in_data_dir_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "mds.toml"
    path.write_text('[daemon]\ndata_dir = "$MDS_NO_SUCH_VARIABLE/mds"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "daemon.data_dir" in str(caught.value) and str(path) in str(caught.value)
    assert "MDS_NO_SUCH_VARIABLE" in str(caught.value)


def test_the_example_config_documents_the_contract_default_socket() -> None:
    example = (ROOT / "config.example.toml").read_text()
    assert re.search(r'^socket\s*=\s*"\$XDG_RUNTIME_DIR/mds/mdsd\.sock"', example, re.M)
    if CONTRACT.exists():
        assert '"$XDG_RUNTIME_DIR/mds/mdsd.sock"' in CONTRACT.read_text()
    parse_config(example)  # and it loads
