"""The real daemon against the simulator, through every door, with the sources misbehaving.

Each test compares the daemon's whole graph with the world's ground truth, never with
hand-picked examples.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mds.client import ApiError
from mds.testing import DaemonProcess
from simulator.chaos import Chaos
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.conftest import graph_differences

pytestmark = pytest.mark.slow


def jsonl(events: list[dict[str, object]]) -> bytes:
    return "\n".join(json.dumps(e) for e in events).encode()


def wait_idle(daemon: DaemonProcess, timeout: float = 180.0) -> None:
    answer = daemon.call("wait_idle", timeout)
    assert answer["idle"], f"not idle after {timeout}s: {answer}\n{daemon.log()[-3000:]}"


def test_graph_matches_truth_through_every_door_with_chaos(
    tmp_path: Path, simulator: SimulatorThread, daemon: DaemonProcess
) -> None:
    events = list(simulator.world.initial_events())
    rng = random.Random(5)
    events += rng.sample(events, len(events) // 5)  # duplicates
    rng.shuffle(events)  # and out of order
    third = len(events) // 3
    by_socket, by_inbox, by_cli = events[:third], events[third : 2 * third], events[2 * third :]

    answer = daemon.call("ingest", jsonl(by_socket))
    assert answer["accepted"] == len(by_socket) and answer["rejected"] == []
    inbox = daemon.data_dir / "inbox"
    (inbox / ".batch.jsonl.part").write_bytes(jsonl(by_inbox))
    (inbox / ".batch.jsonl.part").rename(inbox / "batch.jsonl")
    cli_file = tmp_path / "events.jsonl"
    cli_file.write_bytes(jsonl(by_cli))
    cli = subprocess.run(
        [sys.executable, "-m", "mds", "--socket", str(daemon.socket), "ingest", str(cli_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr

    wait_idle(daemon)
    assert not (inbox / "batch.jsonl").exists(), "an inbox file is removed once queued"
    # start-up's objects are out of the collector's full passes (they hold the loop)
    assert daemon.call("status")["runtime"]["gc_frozen_objects"] > 10_000
    assert graph_differences(daemon, simulator.truth()) == []

    # The world keeps changing (new runs and instances, deletions, tests concluding).
    changes = simulator.mutate(40)
    daemon.call("ingest", jsonl(list(changes)))
    wait_idle(daemon)
    assert graph_differences(daemon, simulator.truth()) == []


def test_sigkill_mid_ingest_loses_no_acknowledged_event(tmp_path: Path) -> None:
    slow_source = Chaos(latency_ms=30.0, fail_5xx=0.05, seed=11)
    with SimulatorThread(World.generate(size=300, seed=9), chaos=slow_source) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            events = list(simulator.world.initial_events())
            acknowledged = 0
            for start in range(0, len(events), 50):
                batch = events[start : start + 50]
                acknowledged += daemon.call("ingest", jsonl(batch))["accepted"]
            assert acknowledged == len(events)
            status = daemon.call("status")
            assert status["pending"] > 0, "the kill must land while work is still queued"
            workers = [p["pid"] for p in status["hydration"]["processes"]]
            assert len(workers) == 2
            daemon.kill()  # SIGKILL: no chance to flush anything
            for pid in workers:  # the daemon's workers end with it
                assert wait_until_gone(pid), f"hydration worker {pid} outlived the daemon"
            daemon.start()
            wait_idle(daemon)
            assert graph_differences(daemon, simulator.truth()) == []
        finally:
            daemon.stop()


def test_sigterm_to_the_whole_process_group_shuts_down_cleanly(tmp_path: Path) -> None:
    """Service managers and timeout(1) signal every process of the group: the workers
    leave their shutdown to the daemon, which finishes cleanly and says nothing is wrong."""
    with SimulatorThread(World.generate(size=100, seed=4)) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        events = list(simulator.world.initial_events())
        daemon.call("ingest", jsonl(events))
        workers = [p["pid"] for p in daemon.call("status")["hydration"]["processes"]]
        assert daemon.process is not None
        for pid in [daemon.process.pid, *workers]:
            os.kill(pid, signal.SIGTERM)
        assert daemon.process.wait(timeout=60) == 0
        for pid in workers:
            assert wait_until_gone(pid), f"hydration worker {pid} outlived the daemon"
        log = daemon.log()
        assert "mdsd stopped cleanly" in log
        assert " ERROR " not in log, log


def wait_until_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


BAD_INPUTS = [
    (b"this is not json", "not JSON"),
    (b'{"event_type": "model_created"}', "model_id"),
    (b'{"event_type": "model_created", "model_id": 42}', "model_id"),
    (b'{"event_type": "model_exploded", "model_id": "m"}', "unknown event_type"),
    (b'{"model_id": "m"}', "event_type"),
    (b"[1, 2]", "object"),
    (b'{"event_type": "dataset_version_created", "dataset_id": "d"}', "version"),
    (b'{"event_type": "model_created", "model_id": "m", "emitted_at": "yesterday"}', "emitted_at"),
    (b"\xff\xfe not utf-8", "UTF-8"),
]


def test_malformed_input_is_dead_lettered_with_its_reason(
    simulator: SimulatorThread, daemon: DaemonProcess
) -> None:
    user = next(iter(simulator.truth()["collections"]["users"]))
    rejected = 0
    for raw, reason in BAD_INPUTS:
        answer = daemon.call("ingest", raw)
        rejected += len(answer["rejected"])
        assert answer["accepted"] == 0, raw
        assert answer["rejected"], raw
        assert reason.lower() in " ".join(r["reason"] for r in answer["rejected"]).lower(), (
            raw,
            answer,
        )
    inbox = daemon.data_dir / "inbox"
    good = json.dumps({"event_type": "user_updated", "user_id": user})
    (inbox / "broken.jsonl").write_text(good + "\n{oops\n")
    deadline = time.monotonic() + 30
    while (inbox / "broken.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    letters = daemon.call("dead_letters", limit=100)["dead_letters"]
    assert len(letters) == rejected + 1  # the file's bad line
    assert all(letter["reason"] and letter["raw"] is not None for letter in letters)
    assert any(letter["origin"] == "inbox:broken.jsonl" for letter in letters)
    assert daemon.call("status")["dead_letters"] == len(letters)
    # The good line of the mixed file was accepted; the daemon is alive and well.
    wait_idle(daemon)
    assert daemon.call("entity", f"aip://user/identity/{user}")["status"] == "resolved"
    # Redriving re-validates: still invalid, so the letters come back with their reasons.
    redriven = daemon.call("redrive")
    assert redriven == {"redriven": 0, "rejected": len(letters), "missing": []}


def test_mds_ingest_takes_json_lines_larger_than_the_request_cap(tmp_path: Path) -> None:
    """A backlog file over [intake] max_request_bytes (16 MiB) goes in, in parts, and a bad
    line deep inside it is named by its line in the file."""
    with SimulatorThread(World.generate(size=50, seed=4)) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            user = next(iter(simulator.truth()["collections"]["users"]))
            line = json.dumps({"event_type": "user_updated", "user_id": user}).encode() + b"\n"
            count = 17 * 1024 * 1024 // len(line) + 1
            backlog = tmp_path / "backlog.jsonl"
            backlog.write_bytes(line * (count - 1) + b"not json\n" + line)
            mds = [sys.executable, "-m", "mds", "--socket", str(daemon.socket), "--json"]
            cli = subprocess.run(
                [*mds, "ingest", str(backlog)], capture_output=True, text=True, check=False
            )
            assert cli.returncode == 5, cli.stderr  # an event was refused (docs/cli.md)
            answer = json.loads(cli.stdout)
            assert answer["accepted"] == count
            assert answer["rejected"] == [
                {
                    "index": count - 1,
                    "reason": f"line {count}: not JSON: Expecting value at column 1",
                }
            ]
            wait_idle(daemon)
            assert daemon.call("entity", f"aip://user/identity/{user}")["status"] == "resolved"
        finally:
            daemon.stop()


def test_oversize_input_is_refused_with_its_reason_and_the_daemon_goes_on(
    tmp_path: Path,
) -> None:
    """Over the socket as a user meets it: a body over intake.max_request_bytes is a 413
    (told by its length, or as a chunked body arrives), `mds ingest` says why and exits 2,
    and an oversize line of an inbox file is a dead letter."""
    caps = {"intake": {"max_request_bytes": 100_000, "max_event_bytes": 1_000}}
    with SimulatorThread(World.generate(size=50, seed=4)) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url, extra=caps).start()
        try:
            user = next(iter(simulator.truth()["collections"]["users"]))
            event = {"event_type": "user_updated", "user_id": user}
            big = jsonl([event] * 5_000)
            with pytest.raises(ApiError) as refused:
                daemon.call("ingest", big)
            assert (refused.value.status, refused.value.code) == (413, "too_large")
            assert "intake.max_request_bytes (100,000)" in refused.value.message

            transport = httpx.HTTPTransport(uds=str(daemon.socket))
            with httpx.Client(transport=transport, base_url="http://mds") as http:
                chunked = http.post("/v1/events", content=iter([big[:60_000], big[60_000:]]))
            assert chunked.status_code == 413, chunked.text
            assert chunked.json()["error"]["code"] == "too_large"

            cli_file = tmp_path / "big.jsonl"
            cli_file.write_bytes(big)
            mds = [sys.executable, "-m", "mds", "--socket", str(daemon.socket)]
            cli = subprocess.run(
                [*mds, "ingest", str(cli_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert cli.returncode == 2 and "max_request_bytes" in cli.stderr, cli

            inbox = daemon.data_dir / "inbox"
            oversize = json.dumps({**event, "pad": "x" * 2_000})
            (inbox / ".mixed.part").write_text(f"{json.dumps(event)}\n{oversize}\n")
            (inbox / ".mixed.part").rename(inbox / "mixed.jsonl")
            wait_idle(daemon)
            (letter,) = daemon.call("dead_letters")["dead_letters"]
            assert letter["origin"] == "inbox:mixed.jsonl"
            assert letter["reason"].startswith("line 2: event is 2,061 bytes, more than")
            assert daemon.call("entity", f"aip://user/identity/{user}")["status"] == "resolved"
            assert daemon.call("ingest", jsonl([event]))["accepted"] == 1
        finally:
            daemon.stop()
