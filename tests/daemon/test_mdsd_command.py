"""The ``mdsd`` command without a daemon: where it finds its config, ``mdsd token``, and the
TLS files ``check-config`` looks at."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trustme

from mdsd.__main__ import main
from mdsd.api.tokens import TOKENS_FILE, TokenChecker, TokenFolder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no config anywhere: XDG dirs under ``tmp_path``, no MDS_CONFIG."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.delenv("MDS_CONFIG", raising=False)
    return tmp_path


def test_without_a_config_it_runs_on_defaults_and_says_so(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert out == "(defaults): ok\n"
    assert "no config file" in err and str(home / "config" / "mds" / "config.toml") in err
    assert f"data in {home / 'share' / 'mds'}" in err


def test_the_users_config_then_mds_config_then_the_flag(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = home / "config" / "mds" / "config.toml"
    users.parent.mkdir(parents=True)
    users.write_text("[daemon]\nworkers = 3\n")
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == f"{users}: ok\n"
    named = home / "named.toml"
    named.write_text("[daemon]\nworkers = 0\n")  # bad, so that reading it shows
    monkeypatch.setenv("MDS_CONFIG", str(named))
    assert main(["check-config"]) == 2
    assert str(named) in capsys.readouterr().err
    monkeypatch.setenv("MDS_CONFIG", str(home / "missing.toml"))  # named but absent: an error
    assert main(["check-config"]) == 2
    assert "cannot read config" in capsys.readouterr().err
    assert main(["check-config", "--config", str(users)]) == 0


def config_with_data(home: Path) -> Path:
    config = home / "mdsd.toml"
    config.write_text(f'[daemon]\ndata_dir = "{home / "data"}"\n')
    return config


def test_token_create_list_revoke(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(config_with_data(home))
    assert main(["token", "create", "alice", "--scope", "read", "--config", config]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("mds_") and len(token) == 47
    assert "shown only now" in err and token not in err
    assert main(["token", "create", "ci", "--scope", "write", "--config", config]) == 0
    capsys.readouterr()
    assert TokenChecker(home / "data").check(token) is not None  # used once: list shows it
    assert main(["token", "list", "--json", "--config", config]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["scope"]) for r in rows] == [("alice", "read"), ("ci", "write")]
    assert rows[0]["last_used_at"] and rows[1]["last_used_at"] is None
    assert all("hash" not in row for row in rows)
    assert main(["token", "list", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and token not in listing
    assert main(["token", "revoke", "alice", "--config", config]) == 0
    assert TokenChecker(home / "data").check(token) is None
    assert main(["token", "revoke", "alice", "--config", config]) == 1
    assert "no token named 'alice'" in capsys.readouterr().err
    assert main(["token", "create", "ci", "--scope", "admin", "--config", config]) == 1


def test_token_commands_refuse_a_token_file_open_to_others(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(config_with_data(home))
    assert main(["token", "create", "alice", "--scope", "read", "--config", config]) == 0
    os.chmod(TokenFolder(home / "data").path / TOKENS_FILE, 0o640)
    capsys.readouterr()
    assert main(["token", "list", "--config", config]) == 1
    assert "open to other users (mode 0640)" in capsys.readouterr().err


def test_check_config_looks_at_the_tls_files(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("mds.example.com")
    cert, key = home / "cert.pem", home / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    config = home / "tls.toml"
    config.write_text(f'[api]\nlisten = "0.0.0.0:8443"\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    assert main(["check-config", "--config", str(config)]) == 0
    ca.cert_pem.write_to_path(str(key))  # a certificate where the key should be
    assert main(["check-config", "--config", str(config)]) == 1
    assert f"cannot use api.tls_cert {cert} with api.tls_key {key}" in capsys.readouterr().err
    key.unlink()
    assert main(["check-config", "--config", str(config)]) == 1
    assert "No such file" in capsys.readouterr().err
