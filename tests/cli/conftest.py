"""Fixtures of the CLI tests: ``daemon`` (a fake mdsd, see ``fake_mdsd``) and ``mds``
(run the CLI in-process against it)."""

from __future__ import annotations

import copy
import io
import sys
from pathlib import Path

import pytest
from fake_mdsd import PROFILES, FakeDaemon, Result, Run

from mds.cli import main
from mds.client import Client

sys.path.append(str(Path(__file__).resolve().parent.parent / "api"))  # answer_shapes


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config home of the test's own (contexts.toml), and no target from the environment
    of whoever runs the tests."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in ("MDS_SERVER", "MDS_TOKEN", "MDS_CACERT", "MDS_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(params=["full"])
def daemon(request: pytest.FixtureRequest) -> FakeDaemon:
    return FakeDaemon(copy.deepcopy(PROFILES[request.param]))  # tests may edit answers


@pytest.fixture
def mds(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Run:
    """Run ``mds ARGV...`` in-process against the fake daemon; ``stdin=`` feeds bytes."""

    def run(*argv: str, stdin: bytes | None = None) -> Result:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(list(argv), connect=lambda socket: Client(app=daemon.app))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)

    return run
