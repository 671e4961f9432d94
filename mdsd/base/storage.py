"""Storage health: a fault of the disk pauses the daemon's writing, and it resumes by itself.

A stage that hits a storage fault (``mdsd.base.faults``) reports it here and keeps its
work where it was (acknowledged units stay in the journal's queue). While the fault lasts
the doors refuse new work with the reason, so nothing is acknowledged that could not be
made durable, and ``mds status`` says what failed, where and since when. A probe, with
backoff, writes a file beside the stores; once that succeeds it brings back what the fault
broke (RocksDB and tantivy refuse every write after a failed one until reopened) and
resumes every paused stage: no manual step, and within a probe interval of space returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mds.wire.moments import iso_epoch
from mdsd.base.faults import IO, NO_SPACE, FaultKind, StorageFault, storage_fault

log = logging.getLogger(__name__)

#: the first probe comes this soon after a fault, then twice as late each time, up to the
#: cap: a disk freed at any moment is noticed within ``MAX_PROBE_SECONDS``
FIRST_PROBE_SECONDS = 0.2
MAX_PROBE_SECONDS = 1.0
#: the probe writes (and fsyncs) this much: a disk that can take it can take the journal's
#: next commit and a search segment, and is not resumed at its last free kilobyte
PROBE_BYTES = 1 << 20
PROBE_NAME = ".mdsd-space-probe"

Recovery = Callable[[], None]


class StorageHealth:
    """Whether the daemon may write, and the fault that stopped it while it may not."""

    def __init__(
        self,
        probe_dir: Path | None,
        *,
        first_probe_seconds: float = FIRST_PROBE_SECONDS,
        max_probe_seconds: float = MAX_PROBE_SECONDS,
        probe_bytes: int = PROBE_BYTES,
    ) -> None:
        """``probe_dir``: where the stores live (the data dir); None probes no file, only
        the recoveries (for a daemon part run alone in tests)."""
        self.probe_dir = probe_dir
        self.first_probe_seconds = first_probe_seconds
        self.max_probe_seconds = max_probe_seconds
        self.probe_bytes = probe_bytes
        self._recoveries: dict[str, Recovery] = {}
        self._resumed: list[Callable[[], None]] = []
        self._ok = asyncio.Event()
        self._ok.set()
        self._fault: StorageFault | None = None
        self._refusal: StorageFault | None = None
        self._kind: FaultKind = IO
        self._stage = ""
        self._stores: set[str] = set()
        self._since: float | None = None
        self._last_resumed_at: float | None = None
        self._faults = 0
        self._episodes = 0
        self._probes = 0
        self._probe_error = ""
        self._probing: asyncio.Task[None] | None = None

    # -- wiring ---------------------------------------------------------------------------

    def add_recovery(self, store: str, recover: Recovery) -> None:
        """``recover()`` brings ``store`` back after a fault of it (before work resumes);
        it raises while it cannot yet."""
        self._recoveries[store] = recover

    def on_resume(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs each time work resumes (to wake paused workers)."""
        self._resumed.append(callback)

    # -- the stages' side -------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return self._ok.is_set()

    def report(self, stage: str, fault: StorageFault) -> None:
        """``stage`` hit ``fault``: pause writing until a probe finds it cleared."""
        if fault is self._fault or fault is self._refusal:
            return  # passed up from where it was reported first, or a door's refusal
        self._faults += 1
        self._fault = fault
        self._stores.add(fault.store)
        if fault.kind == NO_SPACE:
            self._kind = NO_SPACE
        if not self.ok:
            return
        self._episodes += 1
        self._kind = fault.kind
        self._stage = stage
        self._since = time.time()
        self._ok.clear()
        log.error(
            "storage fault in %s (%s): %s; writing paused, acknowledged work is kept and "
            "resumes once the fault clears",
            stage,
            fault.store,
            fault.detail,
        )
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().create_task(
                self._probe_until_clear(), name="storage-probe"
            )

    def check(self) -> None:
        """Raise the current fault, with what to do about it, while writing is paused."""
        if self.ok or self._fault is None:
            return
        cause = "no space left on the device" if self._kind == NO_SPACE else "a storage error"
        where = f" of {self.probe_dir}" if self.probe_dir is not None else ""
        self._refusal = StorageFault(
            self._fault.store,
            self._kind,
            f"mdsd is not taking new work: {cause}{where} since {iso_epoch(self._since)}"
            f" ({self._fault.store}: {self._fault.detail}). Nothing acknowledged is lost;"
            " processing resumes by itself once the fault clears: retry then",
        )
        raise self._refusal

    @contextlib.contextmanager
    def watch(self, stage: str) -> Iterator[None]:
        """Report a storage fault raised inside, and raise it as the ``StorageFault`` a door
        answers with (what failed, and what to do)."""
        try:
            yield
        except Exception as exc:
            fault = storage_fault(exc)
            if fault is None:
                raise
            self.report(stage, fault)
            self.check()
            raise  # not reached: the report paused writing, so ``check`` raised

    async def wait_ok(self) -> None:
        """Return once writing is allowed."""
        await self._ok.wait()

    def status(self) -> dict[str, Any]:
        """For ``mds status``: the state, and while paused since when, why and where."""
        return {
            "state": "ok" if self.ok else "paused",
            "since": None if self.ok else iso_epoch(self._since),
            "kind": None if self.ok else self._kind,
            "stage": None if self.ok else self._stage,
            "stores": [] if self.ok else sorted(self._stores),
            "last_error": self._fault.detail if self._fault is not None else None,
            "probe_error": None if self.ok else self._probe_error or None,
            "faults": self._faults,
            "episodes": self._episodes,
            "probes": self._probes,
            "last_resumed_at": iso_epoch(self._last_resumed_at),
        }

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probing

    # -- probing ----------------------------------------------------------------------------

    async def _probe_until_clear(self) -> None:
        delay = self.first_probe_seconds
        while not self.ok:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_probe_seconds)
            self._probes += 1
            try:
                await asyncio.to_thread(self._write_probe)
                self._recover()
            except Exception as exc:
                if storage_fault(exc) is None:
                    log.exception("storage probe failed unexpectedly; probing again")
                self._probe_error = f"{type(exc).__name__}: {exc}"
                continue
            self._resume()

    def _write_probe(self) -> None:
        if self.probe_dir is not None:
            write_probe(self.probe_dir, self.probe_bytes)

    def _recover(self) -> None:
        """Bring back each store the fault touched; it stays to retry if one cannot yet."""
        for store in sorted(self._stores):
            recover = self._recoveries.get(store)
            if recover is not None:
                recover()
            self._stores.discard(store)

    def _resume(self) -> None:
        paused = time.time() - (self._since or time.time())
        log.warning("storage fault cleared after %.1fs; resuming", paused)
        self._last_resumed_at = time.time()
        self._probe_error = ""
        self._ok.set()
        for callback in self._resumed:
            callback()


def write_probe(directory: Path, size: int = PROBE_BYTES) -> None:
    """Write ``size`` bytes in ``directory``, fsync them and remove them: raises what the
    disk raises while it cannot take them. A directory not made yet is left to whoever
    makes it (with the mode it needs)."""
    if not directory.is_dir():
        return
    path = directory / PROBE_NAME
    try:
        with path.open("wb") as probe:
            probe.write(b"\0" * size)
            probe.flush()
            os.fsync(probe.fileno())
    finally:
        path.unlink(missing_ok=True)


async def wait_for_room(
    directory: Path, stop: asyncio.Event | None = None, max_delay: float = MAX_PROBE_SECONDS
) -> bool:
    """Return once ``directory`` can take writes (True), or ``stop`` is set (False).

    A daemon started while its disk is full cannot open its stores (RocksDB writes a new
    manifest on every open): it waits here, saying so once, instead of failing, and starts
    by itself when space returns."""
    delay = FIRST_PROBE_SECONDS
    waiting_since: float | None = None
    while stop is None or not stop.is_set():
        try:
            await asyncio.to_thread(write_probe, directory)
        except OSError as exc:
            fault = storage_fault(exc)
            if fault is None:
                raise
            if waiting_since is None:
                waiting_since = time.monotonic()
                log.error("cannot start: %s in %s; waiting for it to clear", fault, directory)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await (stop or asyncio.Event()).wait()
            delay = min(delay * 2, max_delay)
            continue
        if waiting_since is not None:
            log.warning("%s takes writes again; starting", directory)
        return True
    return False
