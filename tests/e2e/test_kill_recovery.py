"""kill -9 in the middle of the daemon's own long jobs: a reindex, a reconciliation pass,
an enrichment pass. After a restart nothing acknowledged is lost, and the graph (inferred
edges included) and the search index converge to the world's ground truth."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mds.testing import DaemonProcess
from simulator.chaos import Chaos
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.conftest import graph_differences
from tests.e2e.test_daemon_e2e import jsonl, wait_idle
from tests.e2e.truth import expected_graph, implied_edges

pytestmark = pytest.mark.slow


def kill_when(
    daemon: DaemonProcess, caught: Callable[[dict[str, Any]], bool], timeout: float = 60.0
) -> dict[str, Any]:
    """SIGKILL the daemon the moment its status shows ``caught``; that status."""
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    deadline = time.monotonic() + timeout
    with httpx.Client(transport=transport, base_url="http://mds", timeout=10) as http:
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                status = http.get("/v1/status").json()
            except httpx.TimeoutException:
                continue  # a slowed daemon on a busy machine: poll again
            if caught(status):
                daemon.kill()
                return status
    raise AssertionError(f"never caught in {timeout}s: {status}")


def search_state(daemon: DaemonProcess, sample: list[str]) -> dict[str, Any]:
    """What the index holds: its size, whether it reached the last transaction, and
    which sampled entities a search by native id finds (most; a cell's native id is its
    number)."""
    status = daemon.call("status")
    found = []
    for xid in sample:
        native = xid.rsplit("/", 1)[1]
        hits = daemon.call("search", native, limit=50)["results"]
        found.append(any(hit["id"] == xid for hit in hits))
    return {
        "documents": status["search"]["documents"],
        "current": status["search"]["indexed_tx"] == status["last_tx"],
        "found": found,
    }


def test_sigkill_during_reindex_leaves_an_index_the_daemon_brings_back(tmp_path: Path) -> None:
    with SimulatorThread(World.generate(size=1500, seed=21)) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            daemon.call("ingest", jsonl(list(simulator.world.initial_events())))
            wait_idle(daemon)
            expected, _ = expected_graph(simulator.truth())
            sample = random.Random(3).sample(sorted(expected), 150)
            before = search_state(daemon, sample)
            assert before["current"] and sum(before["found"]) > 0.8 * len(sample)
            daemon.stop()

            reindex = [sys.executable, "-m", "mdsd", "reindex", "--config", str(daemon.config_path)]
            started = time.monotonic()
            subprocess.run(reindex, check=True, capture_output=True)
            whole = time.monotonic() - started
            for share in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95):  # imports, rebuild, commits
                killed = subprocess.Popen(reindex, stdout=subprocess.DEVNULL)
                time.sleep(whole * share)
                killed.send_signal(signal.SIGKILL)
                killed.wait(timeout=30)

            daemon.start()
            wait_idle(daemon)
            assert search_state(daemon, sample) == before
            assert graph_differences(daemon, simulator.truth()) == []
        finally:
            daemon.stop()


def test_sigkill_during_a_reconciliation_pass_loses_nothing(tmp_path: Path) -> None:
    """Half the events never arrive; `mds reconcile` is acknowledged, then the daemon is
    killed mid-pass. The restarted daemon takes the pass up again on its own."""
    slow = Chaos(latency_ms=40.0, seed=5)
    with SimulatorThread(World.generate(size=600, seed=13), chaos=slow) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            events = list(simulator.world.initial_events())
            daemon.call("ingest", jsonl(events[::2]))
            wait_idle(daemon)
            assert graph_differences(daemon, simulator.truth()) != [], "events were dropped"
            assert daemon.call("reconcile")["started"] is True
            caught = kill_when(
                daemon,
                lambda s: (
                    s["enrichment"]["reconcile"]["running"]
                    and (s["enrichment"]["reconcile"]["current"] or {}).get("queued", 0) > 0
                ),
            )
            assert caught["enrichment"]["reconcile"]["last"] is None, "killed mid-pass"

            daemon.start()
            deadline = time.monotonic() + 60
            while daemon.call("status")["enrichment"]["reconcile"]["last"] is None:
                assert time.monotonic() < deadline, "the pass cut short never ran again"
                time.sleep(0.1)
            wait_idle(daemon)
            assert graph_differences(daemon, simulator.truth()) == []
        finally:
            daemon.stop()


@contextlib.contextmanager
def slowed(daemon: DaemonProcess) -> Iterator[None]:
    """Run the daemon a tenth of the time (SIGSTOP/SIGCONT), as on a starved machine: an
    enrichment pass of 20 ms then lasts long enough for a status poll to catch it."""
    assert daemon.process is not None
    pid, done = daemon.process.pid, threading.Event()

    def throttle() -> None:
        with contextlib.suppress(ProcessLookupError):
            while not done.is_set():
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.002)
                os.kill(pid, signal.SIGSTOP)
                time.sleep(0.02)

    thread = threading.Thread(target=throttle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def enrichment_has_work(status: dict[str, Any]) -> bool:
    """Enrichment is in a pass, or holds transactions it has not gone through yet, while
    hydration still has events to write (mid-backfill)."""
    enrichment = status["enrichment"]
    busy = enrichment["running"] or enrichment["pending_changes"] > 0
    return bool(busy and status["pending"] > 0)


def test_sigkill_during_enrichment_passes_loses_nothing(tmp_path: Path) -> None:
    """Killed twice while enrichment infers edges and asks for stubs mid-backfill: after
    each restart it replays what it had not recorded as done, and the graph, inferred
    edges included, is the world's."""
    with SimulatorThread(World.generate(size=1500, seed=17)) as simulator:
        truth = simulator.truth()
        assert implied_edges(expected_graph(truth)[0]), "the world must imply tested_in edges"
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            events = list(simulator.world.initial_events())
            for _ in range(2):
                daemon.call("ingest", jsonl(events))
                with slowed(daemon):
                    kill_when(daemon, enrichment_has_work)
                daemon.start()
                # work for the next kill: the restart may finish what was left before a poll
                events = simulator.mutate(300)
            daemon.call("ingest", jsonl(events))
            wait_idle(daemon)
            assert graph_differences(daemon, simulator.truth()) == []
        finally:
            daemon.stop()
