"""``mdsd backup``, ``verify-backup`` and ``restore``, as a user runs them, on real daemons.

A backup is taken by the running daemon while events it acknowledged are still being
hydrated; the daemon restored from it then holds the same graph once both are idle
(what the backup's journal still held is hydrated again from the same sources). A backup
changed after it was written fails its check, naming the file; a restore never overwrites
a data dir holding facts unless asked, and then keeps it aside.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.truth import expected_graph

pytestmark = pytest.mark.slow

#: what differs between two daemons holding the same graph: when each read and enriched it
_THEIR_OWN = {"last_hydrated_at", "last_enriched_at", "stale", "hydration", "as_of"}


def mdsd(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdsd", *map(str, args)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def workdirs(tmp_path: Path, *names: str) -> list[Path]:
    for name in names:
        (tmp_path / name).mkdir()
    return [tmp_path / name for name in names]


def graph_of(daemon: DaemonProcess, ids: list[str]) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with daemon.client() as client:
            found = {}
            for xid in ids:
                entity = await client.entity(xid)
                found[xid] = {k: v for k, v in entity.items() if k not in _THEIR_OWN}
            # each name finds its entity first (equal scores may come in either order: the
            # restored index's segments are laid out otherwise)
            names = sorted({str(e["name"]) for e in found.values() if e.get("name")})[:40]
            found["search"] = {
                name: (await client.search(name, limit=1))["results"][0]["name"] for name in names
            }
            return found

    return asyncio.run(read())


def test_a_backup_taken_under_load_restores_to_the_same_graph(tmp_path: Path) -> None:
    first, second = workdirs(tmp_path, "first", "second")
    with SimulatorThread(World.generate(size=200, seed=5)) as simulator:
        daemon = DaemonProcess(first, simulator.base_url).start()
        restored = DaemonProcess(second, simulator.base_url)
        try:
            initial = "\n".join(json.dumps(e) for e in simulator.world.initial_events())
            daemon.call("ingest", initial.encode())  # acknowledged, hydration under way
            backup = tmp_path / "backup"
            taken = mdsd("backup", backup, "--config", daemon.config_path)
            assert taken.returncode == 0, taken.stderr
            assert taken.stdout.startswith("backup of transaction ")
            assert daemon.call("wait_idle", 180.0)["idle"]

            checked = mdsd("verify-backup", backup, "--config", daemon.config_path)
            assert checked.returncode == 0 and ": ok, transaction " in checked.stdout

            done = mdsd("restore", backup, "--config", restored.config_path)
            assert done.returncode == 0, done.stderr
            assert f"into {restored.data_dir}" in done.stdout
            restored.start()
            assert restored.call("wait_idle", 180.0)["idle"]
            ids = sorted(expected_graph(simulator.truth())[0])
            assert graph_of(restored, ids) == graph_of(daemon, ids)
        finally:
            daemon.stop()
            restored.stop()


def test_a_stopped_daemons_backup_is_checked_and_never_restored_over_facts(
    tmp_path: Path,
) -> None:
    (first,) = workdirs(tmp_path, "first")
    with SimulatorThread(World.generate(size=60, seed=2)) as simulator:
        daemon = DaemonProcess(first, simulator.base_url).start()
        initial = "\n".join(json.dumps(e) for e in simulator.world.initial_events())
        daemon.call("ingest", initial.encode())
        assert daemon.call("wait_idle", 120.0)["idle"]
        last_tx = daemon.call("status")["last_tx"]
        daemon.stop()

        backup = tmp_path / "backup"
        taken = mdsd("backup", backup, "--config", daemon.config_path)
        assert taken.returncode == 0, taken.stderr
        assert f"backup of transaction {last_tx} " in taken.stdout
        assert oct(backup.stat().st_mode & 0o777) == "0o700"  # it holds the tokens
        again = mdsd("backup", backup, "--config", daemon.config_path)
        assert again.returncode == 1 and "not an empty directory" in again.stderr

        refused = mdsd("restore", backup, "--config", daemon.config_path)
        assert refused.returncode == 1 and "already holds a fact log" in refused.stderr
        replaced = mdsd("restore", backup, "--replace", "--config", daemon.config_path)
        assert replaced.returncode == 0, replaced.stderr
        kept = list(daemon.data_dir.parent.glob("data.before-restore-*"))
        assert len(kept) == 1 and (kept[0] / "facts").is_dir()
        assert daemon.start().call("status")["last_tx"] == last_tx
        daemon.stop()

        journal = backup / "journal.sqlite3"
        journal.write_bytes(journal.read_bytes()[:-1] + b"\x01")
        tampered = mdsd("verify-backup", backup, "--config", daemon.config_path)
        assert tampered.returncode == 1
        assert "journal.sqlite3: changed since the backup" in tampered.stderr
        (backup / "manifest.json").unlink()
        unfinished = mdsd("verify-backup", backup, "--config", daemon.config_path)
        assert unfinished.returncode == 1 and "no manifest.json" in unfinished.stderr
