"""Done when: one user runs ``mdsd`` with ``[api] listen``; another, with only a read token
and the CA file, uses ``mds`` (through a context, as the README's team setup does) and
``mds-tui``'s client fully, and is refused every write; a revoked token and an unknown CA
are refused too, each saying which daemon and why."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mds.client import Client
from mds.target import resolve
from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from simulator.world import World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with SimulatorThread(World.generate(size=60, seed=5)) as simulator:
        process = DaemonProcess(tmp_path_factory.mktemp("team"), simulator.base_url, tls=True)
        with process:
            chosen = list(simulator.world.initial_events())[:40]
            process.call("ingest", "".join(json.dumps(e) + "\n" for e in chosen).encode())
            process.call("wait_idle", 60.0)
            yield process


def mds(home: Path, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``mds`` as another user would run it: its own config home, no socket of the daemon's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDS_")}
    env |= {"XDG_CONFIG_HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run")}
    return subprocess.run(
        [sys.executable, "-m", "mds", *argv],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_a_reader_reads_everything_through_a_context_and_writes_nothing(
    team: DaemonProcess, tmp_path: Path
) -> None:
    token = tmp_path / "team.token"
    token.write_text(team.token("alice", "read") + "\n")
    token.chmod(0o600)
    added = mds(
        tmp_path, "context", "add", "team", "--server", team.server_url,
        "--token-file", str(token), "--cacert", str(team.cacert),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert mds(tmp_path, "context", "use", "team").returncode == 0
    status = mds(tmp_path, "status", "-o", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["entities"] > 0
    hits = mds(tmp_path, "search", "*", "--type", "model", "-o", "ids")
    assert hits.returncode == 0, hits.stderr
    first = hits.stdout.split()[0]
    for argv in (["show", first], ["lineage", first], ["impact", first], ["history", first]):
        done = mds(tmp_path, *argv, "-o", "json")
        assert done.returncode == 0, (argv, done.stderr)
    graphql = mds(tmp_path, "graphql", f'{{ entity(id: "{first}") {{ name }} }}')
    assert graphql.returncode == 0, graphql.stderr
    refused = {
        "ingest": mds(tmp_path, "ingest", "-", stdin=b'{"event_type": "model_updated"}'),
        "reconcile": mds(tmp_path, "reconcile"),
        "redrive": mds(tmp_path, "redrive", "--all"),
    }
    for name, result in refused.items():
        assert result.returncode == 4, (name, result.stderr)
        assert f"mdsd at {team.server_url} (context team)" in result.stderr
    assert token.read_text().strip() not in "".join(r.stderr for r in refused.values())


def test_the_explorer_client_reads_and_a_revoked_token_is_refused(
    team: DaemonProcess, tmp_path: Path
) -> None:
    token = tmp_path / "bob.token"
    token.write_text(team.token("bob", "read"))
    token.chmod(0o600)
    target = resolve(server=team.server_url, token_file=token, cacert=team.cacert)

    async def explore() -> None:
        async with Client(target=target) as client:
            assert (await client.status())["entities"] > 0
            assert (await client.search("*", limit=5))["results"]

    asyncio.run(explore())
    team.revoke("bob")
    argv = ("--server", team.server_url, "--token-file", str(token), "--cacert", str(team.cacert))
    refused = mds(tmp_path, *argv, "status")
    assert refused.returncode == 4, refused.stderr
    assert "401" in refused.stderr
    untrusted = mds(tmp_path, "--server", team.server_url, "--token-file", str(token), "status")
    assert untrusted.returncode == 3
    assert "TLS verification failed" in untrusted.stderr
