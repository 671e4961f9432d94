"""A disk-full episode under load, against a real daemon whose data dir is a small tmpfs.

Shared by the reliability test (short) and ``bench/diskfull_bench.py`` (any length). A
sender posts the world's change events through the socket all along, as a client would:
what is refused (507/503) it sends again later, what is acknowledged it never sends again.
Meanwhile the tmpfs is filled to the last byte, held full, then freed. What it measures:

- acknowledged-missing: units with an acknowledged event that the daemon never hydrated
  after that event was sent (the target is 0);
- resume latency: from freeing the space to the daemon writing again (target <= 5 s);
- how each refusal was answered (507/503 with a reason; anything else is counted apart),
  and how many units went to the dead letters (none of these events is invalid).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mds.client import ApiError
from mds.testing import DaemonProcess
from mdsd.intake.events import Accepted, parse_event
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.truth import expected_graph

#: statuses a door may answer while its disk fails
REFUSALS = (503, 507)
FILLER = "filler"


class MountRefused(Exception):
    """A tmpfs cannot be mounted here (not root, or no mount in this container)."""


@dataclass
class EpisodeReport:
    """What one disk-full episode showed; ``problems()`` lists what missed its target."""

    fault_seconds: float
    acknowledged: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    refusal_reasons: list[str] = field(default_factory=list)
    #: answers that were neither an acknowledgement nor a clear refusal: status -> count
    other_answers: Counter[int] = field(default_factory=Counter)
    paused_seen: bool = False
    storage_during: dict[str, Any] = field(default_factory=dict)
    resume_seconds: float | None = None
    missing: list[str] = field(default_factory=list)
    dead_letters: int = 0
    pending_after: int = 0
    task_restarts: int = 0
    search_current: bool = False
    missing_after_restart: list[str] = field(default_factory=list)
    status_after: dict[str, Any] = field(default_factory=dict)

    def problems(self, resume_target: float = 5.0) -> list[str]:
        found = []
        if self.missing:
            found.append(f"{len(self.missing)} acknowledged unit(s) missing: {self.missing[:5]}")
        if not self.paused_seen:
            found.append("the daemon never reported its storage paused")
        if self.resume_seconds is None or self.resume_seconds > resume_target:
            found.append(f"resumed after {self.resume_seconds}s (target {resume_target}s)")
        if self.other_answers:
            found.append(f"answers other than 200/507/503: {dict(self.other_answers)}")
        if not self.refused:
            found.append("nothing was refused while the disk was full")
        if any(not reason for reason in self.refusal_reasons):
            found.append("a refusal without a reason")
        if self.dead_letters:
            found.append(f"{self.dead_letters} dead letter(s)")
        if self.pending_after:
            found.append(f"{self.pending_after} event(s) still pending")
        if not self.search_current:
            found.append("the search index is behind the facts")
        if self.missing_after_restart:
            found.append(f"after a restart {len(self.missing_after_restart)} unit(s) missing")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "fault_seconds": self.fault_seconds,
            "acknowledged": self.acknowledged,
            "refused": dict(self.refused),
            "refusal_example": self.refusal_reasons[0] if self.refusal_reasons else None,
            "other_answers": dict(self.other_answers),
            "paused_seen": self.paused_seen,
            "storage_during": self.storage_during,
            "resume_seconds": self.resume_seconds,
            "acknowledged_missing": len(self.missing),
            "dead_letters": self.dead_letters,
            "pending_after": self.pending_after,
            "task_restarts": self.task_restarts,
            "search_current": self.search_current,
            "acknowledged_missing_after_restart": len(self.missing_after_restart),
        }


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the block; ``MountRefused`` if it cannot be."""
    path.mkdir(parents=True, exist_ok=True)
    # mode 0700: the daemon refuses a data dir others can write to, as a tmpfs root (1777) is
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MountRefused(f"cannot run mount: {exc}") from exc
    if done.returncode != 0:
        raise MountRefused(f"mount -t tmpfs refused: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(directory: Path) -> int:
    """Write a file in ``directory`` until the device has no byte left; its size."""
    written = 0
    with (directory / FILLER).open("wb", buffering=0) as filler:
        for chunk in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    written += filler.write(b"\0" * chunk)
    return written


def unit_of(event: dict[str, Any]) -> str:
    """The aip id of the unit an event asks to hydrate, as the daemon reads it."""
    parsed = parse_event(json.dumps(event), "diskfull")
    assert isinstance(parsed, Accepted), parsed
    return parsed.target


class Sender:
    """Posts change events through the socket in a thread, resending what is refused."""

    def __init__(self, daemon: DaemonProcess, simulator: SimulatorThread, report: EpisodeReport):
        self.daemon = daemon
        self.simulator = simulator
        self.report = report
        #: unit -> when the last acknowledged event naming it was sent (epoch seconds)
        self.acked: dict[str, float] = {}
        #: unit -> every send naming it: (when, the answer's status, or the client's error)
        self.attempts: dict[str, list[tuple[float, int | str]]] = {}
        self._retry: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diskfull-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        transport = httpx.HTTPTransport(uds=str(self.daemon.socket))
        with httpx.Client(transport=transport, base_url="http://mds", timeout=30) as http:
            while not self._stop.is_set():
                self.post(http, self.simulator.mutate(3))
                time.sleep(0.05)

    def post(self, http: httpx.Client, events: list[dict[str, Any]]) -> bool:
        """Send ``events`` and what was refused before; whether they were acknowledged."""
        batch, self._retry = self._retry + events, []
        if not batch:
            return True
        sent = time.time()
        body = "\n".join(json.dumps(e) for e in batch).encode()
        try:
            answer = http.post("/v1/events", content=body)
        except httpx.HTTPError as exc:
            self._note(batch, sent, type(exc).__name__)
            self._retry = batch
            return False
        self._note(batch, sent, answer.status_code)
        if answer.status_code == 200:
            self.report.acknowledged += len(batch)
            for event in batch:
                self.acked[unit_of(event)] = sent
            return True
        self._retry = batch
        if answer.status_code in REFUSALS:
            self.report.refused[answer.status_code] += 1
            message = answer.json().get("error", {}).get("message", "")
            if len(self.report.refusal_reasons) < 20:
                self.report.refusal_reasons.append(message)
        else:
            self.report.other_answers[answer.status_code] += 1
        return False

    def _note(self, batch: list[dict[str, Any]], sent: float, answer: int | str) -> None:
        for event in batch:
            self.attempts.setdefault(unit_of(event), []).append((sent, answer))

    def drain(self, timeout: float = 60.0) -> None:
        """Send what is still refused until it is acknowledged."""
        transport = httpx.HTTPTransport(uds=str(self.daemon.socket))
        deadline = time.monotonic() + timeout
        with httpx.Client(transport=transport, base_url="http://mds", timeout=30) as http:
            while not self.post(http, []):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{len(self._retry)} event(s) refused for {timeout}s")
                time.sleep(0.2)


def _processed(status: dict[str, Any]) -> int:
    hydration = status["hydration"]
    return sum(hydration[k] for k in ("hydrated", "unchanged", "stale", "deleted"))


def _poll(http: httpx.Client) -> dict[str, Any]:
    while True:
        try:
            return http.get("/v1/status").json()
        except httpx.TimeoutException:
            continue  # a busy machine: ask again


def run_episode(
    workdir: Path,
    *,
    fault_seconds: float = 3.0,
    tmpfs_size: str = "48m",
    world_size: int = 300,
    resume_timeout: float = 60.0,
    restart: bool = True,
) -> EpisodeReport:
    """One episode: warm up, fill the data dir's tmpfs, hold it ``fault_seconds``, free it;
    with ``restart``, then restart the daemon and look again."""
    report = EpisodeReport(fault_seconds)
    data = workdir / "data"
    with (
        tmpfs(data, tmpfs_size),
        SimulatorThread(World.generate(size=world_size, seed=11)) as simulator,
    ):
        daemon = DaemonProcess(workdir, simulator.base_url)
        daemon.start()
        try:
            initial = "\n".join(json.dumps(e) for e in simulator.world.initial_events())
            daemon.call("ingest", initial.encode())
            assert daemon.call("wait_idle", 180.0)["idle"], daemon.log()[-3000:]
            sender = Sender(daemon, simulator, report)
            sender.start()
            transport = httpx.HTTPTransport(uds=str(daemon.socket))
            with httpx.Client(transport=transport, base_url="http://mds", timeout=10) as http:
                time.sleep(1.0)
                fill(data)
                held_until = time.monotonic() + fault_seconds
                while time.monotonic() < held_until:
                    storage = _poll(http)["storage"]
                    if storage["state"] == "paused":
                        report.paused_seen = True
                        report.storage_during = storage
                    time.sleep(0.1)
                before = _processed(_poll(http))
                (data / FILLER).unlink()
                freed = time.monotonic()
                while time.monotonic() - freed < resume_timeout:
                    status = _poll(http)
                    if status["storage"]["state"] == "ok" and _processed(status) > before:
                        report.resume_seconds = round(time.monotonic() - freed, 2)
                        break
                    time.sleep(0.05)
                time.sleep(1.0)  # load goes on after the fault
            sender.stop()
            sender.drain()
            idle = daemon.call("wait_idle", 180.0)
            assert idle["idle"], f"not idle: {idle}\n{daemon.log()[-3000:]}"
            live = set(expected_graph(simulator.truth())[0])
            report.missing = _missing(daemon, sender, live)
            status = daemon.call("status")
            report.status_after = status
            report.dead_letters = status["dead_letters"]
            report.pending_after = status["pending"]
            report.task_restarts = status["tasks"]["restarts"]
            report.search_current = status["search"]["indexed_tx"] == status["last_tx"]
            if restart:  # what the restarted daemon holds, and calls idle, is all there
                daemon.stop()
                daemon.start()
                assert daemon.call("wait_idle", 180.0)["idle"], daemon.log()[-3000:]
                report.missing_after_restart = _missing(daemon, sender, live)
        finally:
            daemon.stop()
    return report


def _missing(daemon: DaemonProcess, sender: Sender, live: set[str]) -> list[str]:
    """Units acknowledged but not hydrated since (an event lost, or dead-lettered), each
    with every send that named it.
    One the daemon never wrote is missing only if it is ``live`` in the world (a unit
    created and deleted before its read leaves nothing to write)."""
    missing = []

    async def check() -> None:
        async with daemon.client() as client:
            for unit, sent in sorted(sender.acked.items()):
                try:
                    entity = await client.entity(unit)
                except ApiError as exc:
                    if unit in live:
                        missing.append(f"{unit}: {exc}")
                    continue
                hydrated = entity.get("last_hydrated_at")
                if hydrated is None or _epoch(hydrated) < sent:
                    missing.append(
                        f"{unit}: sent at {sent}, last hydrated at {hydrated};"
                        f" sends: {sender.attempts.get(unit)}"
                    )

    asyncio.run(check())
    return missing


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def mount_refusal(workdir: Path) -> str | None:
    """Why a tmpfs cannot be mounted here, or None when it can."""
    try:
        with tmpfs(workdir / "probe", "1m"):
            return None
    except MountRefused as exc:
        return str(exc)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(workdir / "probe")
