"""The daemon's composition root: opens the stores, builds each room and wires them.

intake -> hydration -> facts -> search, enrichment and the change feed; the API reads
through ``mdsd.reads``. Each room is handed only the ports it declares (callbacks and
narrow Protocols), never the daemon. One asyncio process: the fact store is written only
from this process's event loop, and every commit fans out to the search indexer, the
change feed and enrichment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mds.wire import JSON
from mds.wire.model import parse_aip_id
from mds.wire.moments import iso, iso_epoch
from mdsd import __version__
from mdsd import backup as backups
from mdsd import facts as F
from mdsd.api.access import Remote
from mdsd.api.changes import ChangeFeed
from mdsd.api.ports import Services
from mdsd.api.readers import READ_WORKER
from mdsd.api.tokens import AUTH_DIR
from mdsd.base.memory import trim_when_idle
from mdsd.base.storage import StorageHealth
from mdsd.base.supervise import Job, Supervisor
from mdsd.config import Config
from mdsd.connectors import Connector, UnitOf, build_connectors, openlineage
from mdsd.connectors.feast.poll import STATE_FILE as FEAST_POLL_STATE
from mdsd.connectors.feast.poll import feast_services
from mdsd.connectors.mlflow.webhook import CATCH_UP_STATE as MLFLOW_CATCH_UP_STATE
from mdsd.connectors.mlflow.webhook import mlflow_services
from mdsd.enrichment.loop import STATE_FILE, Enrichment
from mdsd.enrichment.reconcile import Reconciler
from mdsd.hydration.fetching import Fetcher, LocalFetcher
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.workers import ProcessFetcher
from mdsd.hydration.writer import Writer
from mdsd.index.indexer import Indexer
from mdsd.index.search import SearchIndex
from mdsd.intake.buses import Bus, build_buses
from mdsd.intake.doors import Intake, inbox_files
from mdsd.intake.housekeeping import keep_tidy
from mdsd.intake.journal import Journal
from mdsd.reads.cost import ReadRunner
from mdsd.reads.counts import EntityCounts
from mdsd.reads.queries import BadQuery
from mdsd.reads.search import Search
from mdsd.reads.units import UnitReads
from mdsd.reads.workers import ProcessReader
from store import FactStore, Op, TxReport

if TYPE_CHECKING:
    from mdsd.replication.publisher import Publisher

log = logging.getLogger(__name__)

#: how long background tasks get to end when the daemon stops
STOP_TIMEOUT_SECONDS = 10.0
#: While read workers answer the queries, the daemon's own fact store serves the write path
#: (a unit's held state, search documents, enrichment's neighbours) and search hits. Its
#: caches at the read sizes (``cache_entities``, ``block_cache_mb``) then held what a load
#: wrote and indexed once, entity by entity: 100,000 entities filled them during a 100k
#: load. Capped at these, the daemon keeps the hot part (owners, teams, shared datasets).
WRITE_PATH_CACHE_ENTITIES = 10_000
WRITE_PATH_BLOCK_CACHE_MB = 32


def runtime_status(frozen_objects: int) -> dict[str, Any]:
    """The garbage collector's work: each full collection holds the event loop, so these
    are where to look when queries stall now and then."""
    return {
        "gc_frozen_objects": frozen_objects,
        "gc_collections": [generation["collections"] for generation in gc.get_stats()],
    }


def state_files(data: Path) -> list[Path]:
    """The stages' state files a backup carries: enrichment's and the sources' polls'. Not
    ``replication.json``: a restored primary publishes its log from the start, to the new
    topic docs/replication.md asks for."""
    return [data / name for name in (STATE_FILE, FEAST_POLL_STATE, MLFLOW_CATCH_UP_STATE)]


class Daemon:
    """Everything the running daemon holds. ``await start()``, then ``await stop()``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ready = False
        self.started_at = time.time()
        self.supervisor = Supervisor()
        #: the TCP listener's tokens and refusals (the listener itself is the server's)
        self.remote = Remote(config.api, config.data_dir)
        #: objects ``freeze`` took out of the collector's reach
        self.frozen_objects = 0
        #: with ``[replication]``: the outbox publishing each transaction to Kafka
        self.publisher: Publisher | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def freeze(self) -> None:
        """Freeze what start-up built (modules, schema, connectors, caches): it lives as long
        as the process and is most of what the collector tracks, so full collections stop
        walking it every few seconds of a backfill. Counted once, here: the count walks
        every frozen object, and ``mds status`` spent 11-16 ms of its time on it per call."""
        gc.collect()
        gc.freeze()
        self.frozen_objects = gc.get_freeze_count()

    async def start(self) -> None:
        """Open the stores, build the rooms on them, start the background jobs."""
        data = self.config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        await self._open_stores(data)
        await self._build_rooms(data)
        await self._resume()
        self._start_jobs(data)
        self.ready = True
        self.log_ready()

    def log_ready(self) -> None:
        log.info(
            "mdsd ready: %d transactions, sources %s, inbox %s",
            self.store.last_tx,
            ", ".join(sorted(self.connectors)) or "(none)",
            self.inbox,
        )

    async def _resume(self) -> None:
        resumed = await self.hydrator.start()
        if resumed:
            log.info("resumed %d unit(s) left pending by the last run", resumed)

    async def _open_stores(self, data: Path) -> None:
        """The fact store, the intake journal and the search indexes (caught up)."""
        fsync = self.config.daemon.fsync
        self.storage = StorageHealth(data)
        daemon = self.config.daemon
        entities, blocks_mb = daemon.cache_entities, daemon.block_cache_mb
        if self.config.api.read_processes:  # the reads have caches of their own
            entities = min(entities, WRITE_PATH_CACHE_ENTITIES)
            blocks_mb = min(blocks_mb, WRITE_PATH_BLOCK_CACHE_MB)
        self.store = FactStore(
            data / "facts",
            sync=fsync,
            cache_entries=entities,
            xid_entries=daemon.cache_ids,
            block_cache_bytes=blocks_mb << 20,
        )
        self.storage.add_recovery("facts", self.store.reopen)
        self.store.install(F.SCHEMA)
        self.counts = EntityCounts(self.store)
        self.journal = await Journal.open(data / "journal.sqlite3", fsync=fsync)
        heap = self.config.search.writer_heap_mb
        self.search_index = SearchIndex(data / "search" / "main", writer_heap_mb=heap)
        self.owners_index = SearchIndex(data / "search" / "owners", writer_heap_mb=heap)
        self.indexer = Indexer(self.store, self.search_index, self.owners_index, self.storage)
        log.info("search index: %s", self.indexer.catch_up())

    async def _build_rooms(self, data: Path) -> None:
        """Each room, handed only the ports it declares."""
        self.changes = ChangeFeed(self.store)
        self.connectors: dict[str, Connector] = build_connectors(self.config.sources)
        self.fetcher = self._fetcher()
        await self.fetcher.start()
        self.writer = Writer(self.store)
        self.reader = self._reader(data)
        await self.reader.start()
        self.hydrator = Hydrator(
            self.journal,
            self.fetcher,
            self.writer,
            self.on_commit,
            workers=self.config.daemon.workers,
            source_limits={
                **{key: policy.concurrency for key, policy in self.config.sources.items()},
                openlineage.SOURCE: openlineage.CONCURRENCY,
            },
            retry_seconds=self.config.enrichment.retry_seconds,
            storage=self.storage,
            supervisor=self.supervisor,
            carried={
                openlineage.SOURCE: openlineage.Lineage(
                    self.config.openlineage.namespaces, self.fetcher.users_by_email
                )
            },
        )
        self.intake = Intake(
            self.journal,
            self.hydrator.take,
            [*self.connectors, openlineage.SOURCE],
            max_request_bytes=self.config.intake.max_request_bytes,
            max_event_bytes=self.config.intake.max_event_bytes,
            storage=self.storage,
        )
        self.hydrator.doors_busy = lambda: self.intake.busy
        self.enrichment = Enrichment(
            self.store,
            self.journal,
            commit=self.commit,
            enqueue=self.intake.enqueue,
            unit_of=self._unit_of,
            settings=self.config.enrichment,
            state_path=data / STATE_FILE,
            storage=self.storage,
        )
        self.reconciler = Reconciler(
            self.store,
            self.journal,
            self.connectors,
            enqueue=self.intake.enqueue,
            settings=self.config.reconcile,
            memo_path=data / "reconcile.sqlite3",
        )
        self.units = UnitReads(self.journal, self._unit_of, self.enrichment)
        self.services = self._services()

    def _start_jobs(self, data: Path) -> None:
        """The background tasks: inbox, indexer, enrichment, reconciliation, buses, MLflow,
        the Feast poll."""
        self.inbox = data / "inbox"
        self._spawn(partial(self.intake.watch_inbox, self.inbox), "inbox")
        self._spawn(
            partial(self.indexer.run, self.config.search.commit_interval_ms / 1000), "indexer"
        )
        self._spawn(self.enrichment.run, "enrichment")
        self._spawn(self.reconciler.run, "reconcile")
        self._spawn(partial(keep_tidy, self.journal, self.store), "housekeeping")
        if self.config.daemon.memory_trim_idle_seconds:
            self._spawn(
                partial(trim_when_idle, self.config.daemon.memory_trim_idle_seconds), "memory"
            )
        self.buses: list[Bus] = build_buses(
            self.config.intake, self.intake, lambda: self.hydrator.pending_units
        )
        for bus in self.buses:
            self._spawn(bus.run, f"bus-{bus.kind}")
        if self.config.replication is not None:
            from mdsd.replication.publisher import Publisher  # aiokafka: the kafka extra

            self.publisher = Publisher(self.store, self.config.replication, data)
            self._spawn(self.publisher.run, "replication")
        mlflow = mlflow_services(
            self.config.mlflow,
            self.connectors,
            self.intake.submit,
            data,
            self.hydrator.pending_of,
        )
        for name, job in mlflow.items():
            self._spawn(job, name)
        for name, job in feast_services(self.connectors, self.intake.submit, data).items():
            self._spawn(job, name)

    def _services(self) -> Services:
        """What the API is handed: the reads, and the few operations of the whole daemon."""
        return Services(
            facts=self.store,
            intake=self.intake,
            changes=self.changes,
            search=Search(self.store, self.search_index, self.owners_index),
            unit_state=self.units.state,
            unit_times=self.units.times,
            quality=self.units.quality,
            dead_letters=self.journal.dead_letters,
            status=self.status,
            wait_idle=self.wait_idle,
            redrive=self.redrive,
            reconcile=self.reconciler.start,
            backup=self.backup,
            stale_days=self.config.enrichment.stale_days,
            reader=self.reader,
            source_url=self.source_url,
        )

    def source_url(self, entity: JSON) -> str | None:
        """Where an entity is seen in its source's UI: its connector says."""
        connector = self.connectors.get(str(entity.get("source")))
        return connector.source_url(entity) if connector is not None else None

    def api(self) -> Services | None:
        """The API's services while the daemon is up; None while it starts or stops."""
        return self.services if self.ready else None

    def _fetcher(self) -> Fetcher:
        processes = self.config.daemon.hydration_processes
        if processes == 0 or not self.connectors:
            return LocalFetcher(self.connectors)
        return ProcessFetcher(
            self.config.sources, self.connectors, processes, self.config.daemon.log_level
        )

    def _reader(self, data: Path) -> ReadRunner:
        api = self.config.api
        if api.read_processes == 0:
            return ReadRunner(api.read_limits())
        return ProcessReader(
            api.read_limits(),
            READ_WORKER,
            {"data": str(data), "unit_of": UnitOf(frozenset(self.connectors))},
            api.read_processes,
            self.config.daemon.log_level,
        )

    def _spawn(self, job: Job, name: str) -> None:
        """Run ``job()`` in the background; restarted (with backoff) if it dies."""
        self.supervisor.spawn(job, name)

    def begin_shutdown(self) -> None:
        """End long-lived responses (change streams) so the server can stop promptly."""
        if self.ready:
            self.changes.close()

    async def stop(self) -> None:
        """Stop intake, let nothing half-done be lost, close every store."""
        if not self.ready:
            return
        self.ready = False
        # shutdown must finish; what stuck tasks held is in the journal
        for task in await self.supervisor.stop(STOP_TIMEOUT_SECONDS):
            log.error("background task %s did not stop in time", task.get_name())
        await self.storage.close()
        await self.reader.aclose()
        await self._stop_writing()
        try:
            await self.indexer.drain()
        except Exception:  # the index is rebuilt from the facts at the next start
            log.exception("could not flush the search index")
        for connector in self.connectors.values():
            await connector.aclose()
        await self.journal.close()
        self.search_index.close()
        self.owners_index.close()
        self.store.sync_wal()
        self.store.close()
        log.info("mdsd stopped cleanly")

    async def _stop_writing(self) -> None:
        """What the background jobs leave to stop: hydration and its fetch workers."""
        await self.hydrator.stop()
        await self.fetcher.aclose()

    # -- the write path -------------------------------------------------------------------------

    def on_commit(self, report: TxReport) -> None:
        """Every transaction, whoever wrote it, is indexed, announced, offered to enrichment
        and, with ``[replication]``, published."""
        self.indexer.note(report)
        self.changes.publish(report)
        self.enrichment.note(report)
        if self.publisher is not None:
            self.publisher.wake()

    def commit(self, ops: Sequence[Op], meta: dict[str, Any]) -> TxReport | None:
        """Write ``ops`` as one transaction and fan it out."""
        report = self.store.transact(ops, meta)
        if report is not None:
            self.on_commit(report)
        return report

    def _unit_of(self, xid: str) -> str | None:
        """The hydration unit of ``xid``, or None when its source is not configured."""
        try:
            source = parse_aip_id(xid).source
        except ValueError:
            return None
        connector = self.connectors.get(source)
        return connector.unit_of(xid) if connector is not None else None

    # -- what the API asks of the whole daemon --------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """``mds status``: every room's counters, assembled."""
        return {
            **await self._graph_status(),
            "role": "primary",
            "pending": await self.journal.pending_count(),
            "pending_units": self.hydrator.pending_units,
            # files in the inbox not read yet (one still being written settles first)
            "inbox_files": sum(1 for _ in inbox_files(self.inbox)),
            "dead_letters": await self.journal.dead_letter_count(),
            "received": self.intake.received,
            "hydration": {
                **self.hydrator.stats.to_json(),
                "by_source": self.hydrator.by_source(),
                "processes": self.fetcher.processes(),
            },
            "failing_units": [
                {"unit": u.unit, "failures": u.failures, "last_error": u.last_error}
                for u in await self.journal.failing_units(20)
            ],
            "sources": await self.fetcher.stats(),
            "enrichment": {**self.enrichment.status(), "reconcile": self.reconciler.status()},
            "buses": {bus.kind: await bus.status() for bus in self.buses},
            "replication": self.publisher.status() if self.publisher is not None else None,
        }

    async def _graph_status(self) -> dict[str, Any]:
        """The part of ``mds status`` a primary and a replica answer alike: what the graph
        holds, its search index, and the process."""
        counts = await self.counts.latest()
        return {
            "version": __version__,
            "ready": self.ready,
            "started_at": iso_epoch(self.started_at),
            "entities": counts[F.STATUS_RESOLVED] + counts[F.STATUS_STUB],
            "resolved": counts[F.STATUS_RESOLVED],
            "stubs": counts[F.STATUS_STUB],
            "deleted": counts[F.STATUS_DELETED],
            "last_tx": self.store.last_tx,
            "last_tx_at": iso(self.store.instant_of(self.store.last_tx))
            if self.store.last_tx
            else None,
            # how far back the graph reaches in valid time (an as-of before it finds nothing)
            "earliest_valid": iso(self.store.earliest_valid()),
            # entities by kind (deleted ones left out), from the search index's counts
            "kinds": await asyncio.to_thread(self.search_index.kinds),
            "search": {
                "indexed_tx": self.search_index.indexed_tx,
                "documents": self.search_index.count(),
            },
            "runtime": runtime_status(self.frozen_objects),
            "storage": self.storage.status(),
            "tasks": self.supervisor.status(),
            "remote": self.remote.status(),
        }

    async def wait_idle(self, timeout: float) -> bool:
        """True once nothing is pending (no inbox file either), no stub is due and
        enrichment has caught up."""
        deadline = time.monotonic() + timeout
        while True:
            settled = (
                not any(inbox_files(self.inbox))
                and self.hydrator.is_idle
                and self.enrichment.settled
                and not self.reconciler.running
            )
            if settled and not self.indexer.behind:
                return True
            if settled:
                self.indexer.flush_soon()  # only the search commit is left
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.05, remaining))

    async def backup(self, folder: str) -> dict[str, Any]:
        """``mdsd backup``: a consistent copy of the data dir, taken while the daemon runs."""
        try:
            manifest = await backups.take(self.backup_parts(), Path(folder))
        except backups.BackupError as exc:
            raise BadQuery(str(exc)) from exc
        except OSError as exc:
            raise BadQuery(f"cannot write the backup into {folder}: {exc}") from exc
        log.info("backup of tx %d written to %s", manifest.last_tx, folder)
        return {"dir": folder, **manifest.to_json()}

    def backup_parts(self) -> backups.BackupParts:
        return backups.BackupParts(
            facts=self.store,
            journal_backup=self.journal.backup,
            indexes={"search/main": self.search_index, "search/owners": self.owners_index},
            hold_indexes=self.indexer.commits,
            auth=self.config.data_dir / AUTH_DIR,
            state_files=state_files(self.config.data_dir),
        )

    async def redrive(self, ids: list[int] | None) -> dict[str, Any]:
        """Send dead letters through intake again (events) or back to hydration (units);
        ``missing`` names the ids asked for that wait for no redrive."""
        self.storage.check()  # not taken from the dead letters when they cannot be queued
        letters = await self.journal.take_dead_letters(ids)
        redriven = rejected = 0
        for letter in letters:
            result = await self.intake.redrive(letter)
            redriven += result.accepted
            rejected += len(result.rejected)
        found = {letter.id for letter in letters}
        missing = sorted(set(ids or ()) - found)
        return {"redriven": redriven, "rejected": rejected, "missing": missing}
