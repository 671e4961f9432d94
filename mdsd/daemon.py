"""The daemon: opens the stores, wires intake -> hydration -> facts -> search, serves the API.

One asyncio process. The fact store is written only from this process's event loop; every
commit fans out to the search indexer, the change feed and enrichment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from mds.wire.model import parse_aip_id
from mds.wire.moments import iso, iso_epoch
from mdsd import __version__
from mdsd import facts as F
from mdsd.api.changes import ChangeFeed
from mdsd.base.storage import StorageHealth
from mdsd.base.supervise import Job, Supervisor
from mdsd.config import Config
from mdsd.connectors import Connector, build_connectors
from mdsd.connectors.mlflow.webhook import mlflow_services
from mdsd.enrichment.loop import Enrichment
from mdsd.hydration.fetching import Fetcher, LocalFetcher
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.workers import ProcessFetcher
from mdsd.hydration.writer import Writer
from mdsd.index.indexer import Indexer
from mdsd.index.search import MAX_SEARCH_LIMIT, SearchIndex
from mdsd.intake.buses import Bus, build_buses
from mdsd.intake.doors import Intake, inbox_files
from mdsd.intake.housekeeping import keep_tidy
from mdsd.intake.journal import Journal, UnitState
from store import FactStore, Op, TxReport

log = logging.getLogger(__name__)

#: how long background tasks get to end when the daemon stops
STOP_TIMEOUT_SECONDS = 10.0


def runtime_status() -> dict[str, Any]:
    """The garbage collector's work: each full collection holds the event loop, so these
    are where to look when queries stall now and then."""
    return {
        "gc_frozen_objects": gc.get_freeze_count(),
        "gc_collections": [generation["collections"] for generation in gc.get_stats()],
    }


class Daemon:
    """Everything the running daemon holds. ``await start()``, then ``await stop()``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ready = False
        self.started_at = time.time()
        self.supervisor = Supervisor()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        data = self.config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        fsync = self.config.daemon.fsync
        self.storage = StorageHealth(data)
        self.store = FactStore(data / "facts", sync=fsync)
        self.storage.add_recovery("facts", self.store.reopen)
        self.store.install(F.SCHEMA)
        self.journal = await Journal.open(data / "journal.sqlite3", fsync=fsync)
        self.search_index = SearchIndex(data / "search" / "main")
        self.owners_index = SearchIndex(data / "search" / "owners")
        self.indexer = Indexer(self.store, self.search_index, self.owners_index, self.storage)
        log.info("search index: %s", self.indexer.catch_up())
        self.changes = ChangeFeed(self.store)
        self.connectors: dict[str, Connector] = build_connectors(self.config.sources)
        self.fetcher = self._fetcher()
        await self.fetcher.start()
        self.writer = Writer(self.store)
        self.hydrator = Hydrator(
            self.journal,
            self.fetcher,
            self.writer,
            self.on_commit,
            workers=self.config.daemon.workers,
            source_limits={key: policy.concurrency for key, policy in self.config.sources.items()},
            retry_seconds=self.config.enrichment.retry_seconds,
            storage=self.storage,
            supervisor=self.supervisor,
        )
        self.intake = Intake(
            self.journal,
            self.hydrator,
            self.connectors,
            max_request_bytes=self.config.intake.max_request_bytes,
            max_event_bytes=self.config.intake.max_event_bytes,
            storage=self.storage,
        )
        self.enrichment = Enrichment(self)
        resumed = await self.hydrator.start()
        if resumed:
            log.info("resumed %d unit(s) left pending by the last run", resumed)
        self.inbox = data / "inbox"
        self._spawn(partial(self.intake.watch_inbox, self.inbox), "inbox")
        self._spawn(
            partial(self.indexer.run, self.config.search.commit_interval_ms / 1000), "indexer"
        )
        self._spawn(self.enrichment.run, "enrichment")
        self._spawn(partial(keep_tidy, self.journal, self.store), "housekeeping")
        self.buses: list[Bus] = build_buses(
            self.config.intake, self.intake, lambda: self.hydrator.pending_units
        )
        for bus in self.buses:
            self._spawn(bus.run, f"bus-{bus.kind}")
        for name, job in mlflow_services(self).items():
            self._spawn(job, name)
        self.ready = True
        log.info(
            "mdsd ready: %d transactions, sources %s, inbox %s",
            self.store.last_tx,
            ", ".join(sorted(self.connectors)) or "(none)",
            self.inbox,
        )

    def _fetcher(self) -> Fetcher:
        processes = self.config.daemon.hydration_processes
        if processes == 0 or not self.connectors:
            return LocalFetcher(self.connectors)
        return ProcessFetcher(
            self.config.sources, self.connectors, processes, self.config.daemon.log_level
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
        await self.hydrator.stop()
        await self.fetcher.aclose()
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

    # -- the write path -------------------------------------------------------------------------

    def on_commit(self, report: TxReport) -> None:
        """Every transaction, whoever wrote it, is indexed, announced and offered to enrichment."""
        self.indexer.note(report)
        self.changes.publish(report)
        self.enrichment.note(report)

    def commit(self, ops: Sequence[Op], meta: dict[str, Any]) -> TxReport | None:
        """Write ``ops`` as one transaction and fan it out."""
        report = self.store.transact(ops, meta)
        if report is not None:
            self.on_commit(report)
        return report

    # -- reads ------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        owners: bool = False,
        db: Any = None,
    ) -> dict[str, Any]:
        """Ranked hits, each with owners and tags as of the view ``db``.

        A blank query lists everything, as ``*`` does (``kubectl get``). The index holds
        the present, so a view of the past also asks it for entities deleted since and
        keeps the hits that existed, undeleted, then (their names as they are now)."""
        db = db or self.store.db()
        index = self.owners_index if owners else self.search_index
        past = db.basis_tx < self.store.last_tx
        hits = index.search(
            query if query.strip() else "*",
            entity_type=entity_type,
            limit=MAX_SEARCH_LIMIT if past else limit,
            include_deleted=past,
        )
        results: list[dict[str, Any]] = []
        for hit in hits:
            e = db.entid(hit.id)
            entity = {} if e is None else db.entity(e)
            if entity.get(F.STATUS, F.STATUS_DELETED) == F.STATUS_DELETED:
                continue  # not there at the moment asked about
            if len(results) == limit:
                break
            owner_ids = entity.get(F.rel_attr("owned_by"), [])
            results.append(
                {
                    "id": hit.id,
                    "entity_type": entity.get(F.TYPE, hit.entity_type),
                    "name": entity.get(F.NAME, hit.name),
                    "score": hit.score,
                    "match": hit.match,
                    "status": entity.get(F.STATUS, hit.status),
                    "description": entity.get(F.DESCRIPTION),
                    "owners": [{"id": db.xid(o), "name": db.get(o, F.NAME)} for o in owner_ids],
                    "tags": entity.get(F.TAGS, []),
                    "highlights": hit.highlights,
                }
            )
        return {"results": results}

    async def unit_state(self, xid: str) -> UnitState | None:
        """The journal's record of reading the unit ``xid`` belongs to (times, failures)."""
        try:
            connector = self.connectors.get(parse_aip_id(xid).source)
        except ValueError:
            return None
        unit = connector.unit_of(xid) if connector is not None else xid
        return await self.journal.unit_state(unit)

    async def unit_times(self, xid: str) -> tuple[float | None, float | None] | None:
        """(last hydrated, last enriched) epoch seconds of the unit ``xid`` belongs to."""
        state = await self.unit_state(xid)
        if state is None:
            return None
        return state.last_ok_at, state.last_enriched_at

    async def status(self) -> dict[str, Any]:
        db = self.store.db()
        counts = {
            status: len(db.lookup(F.STATUS, status))
            for status in (F.STATUS_RESOLVED, F.STATUS_STUB, F.STATUS_DELETED)
        }
        return {
            "version": __version__,
            "ready": self.ready,
            "started_at": iso_epoch(self.started_at),
            "entities": counts[F.STATUS_RESOLVED] + counts[F.STATUS_STUB],
            "resolved": counts[F.STATUS_RESOLVED],
            "stubs": counts[F.STATUS_STUB],
            "deleted": counts[F.STATUS_DELETED],
            "pending": await self.journal.pending_count(),
            "pending_units": self.hydrator.pending_units,
            # files in the inbox not read yet (one still being written settles first)
            "inbox_files": sum(1 for _ in inbox_files(self.inbox)),
            "dead_letters": await self.journal.dead_letter_count(),
            "last_tx": self.store.last_tx,
            "last_tx_at": iso(self.store.instant_of(self.store.last_tx))
            if self.store.last_tx
            else None,
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
            "enrichment": self.enrichment.status(),
            "buses": {bus.kind: await bus.status() for bus in self.buses},
            "search": {
                "indexed_tx": self.search_index.indexed_tx,
                "documents": self.search_index.count(),
            },
            "runtime": runtime_status(),
            "storage": self.storage.status(),
            "tasks": self.supervisor.status(),
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
                and not self.enrichment.reconciler.running
            )
            if settled and not self.indexer.behind:
                return True
            if settled:
                self.indexer.flush_soon()  # only the search commit is left
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.05, remaining))

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

    async def start_reconcile(self) -> dict[str, Any]:
        return await self.enrichment.start_reconcile()
