"""Enrichment: the background loop that completes the graph.

Each pass, shortly after commits (debounced) and at least every ``interval_seconds``:

1. re-evaluates the inference rules for the anchors the committed changes can affect
   (``mdsd.enrichment.inference``), writing added and retracted inferred edges;
2. asks for hydration, through the durable intake, of stubs and of entities whose owner
   references did not resolve, skipping units already queued and backing off on units
   that stayed unresolved after being asked for;
3. records ``last_enriched_at`` for the units it looked at.

It never blocks intake: work is cut into chunks with a yield between them, and its own
transactions are not fed back to it. What it has processed is kept in a small state file,
so a restart replays only the transactions it missed (or, when there is no such record or
the rules changed, runs one full pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mds.wire.model import Rel, parse_aip_id
from mds.wire.moments import iso_epoch
from mdsd import facts as F
from mdsd.base.faults import StorageFault, storage_fault
from mdsd.base.files import write_json
from mdsd.base.pacing import paced
from mdsd.base.storage import StorageHealth
from mdsd.enrichment.inference import Evaluator, Work, touched_entities
from mdsd.enrichment.ports import Commit, Enqueue, EnrichmentJournal, Facts, UnitOf
from mdsd.enrichment.readers import PointReader, Reader, ScanReader
from mdsd.enrichment.rules import RULES, Rule, fingerprint
from mdsd.enrichment.settings import EnrichmentConfig
from mdsd.intake.journal import QueuedEvent
from store import Db, TxReport

log = logging.getLogger(__name__)

ORIGIN = "enrichment"
#: quiet time after a commit before a pass starts, so a burst is handled in one pass ...
DEBOUNCE_SECONDS = 0.2
#: ... but a steady stream of commits still gets a pass at least this often
MAX_DEFER_SECONDS = 2.0
#: anchors evaluated and written per transaction; one chunk is one short stretch of work
CHUNK = 200
#: the longest wait before asking again for a unit that stayed unresolved
MAX_ASK_BACKOFF_SECONDS = 3600.0
#: a restart replays at most this many missed transactions; beyond, a full pass is cheaper
MAX_REPLAY = 20_000
STATE_FILE = "enrichment.json"


@dataclass(slots=True)
class Ask:
    """Enrichment asked for a unit's hydration ``count`` times; not again before ``due_at``."""

    count: int
    due_at: float


@dataclass(slots=True)
class PassReport:
    kind: str  # "startup", "full", "incremental", "periodic"
    started_at: float
    seconds: float = 0.0
    changed: int = 0
    work: Work = field(default_factory=Work)
    stubs: int = 0
    queued: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "started_at": iso_epoch(self.started_at),
            "seconds": round(self.seconds, 4),
            "changed": self.changed,
            **self.work.to_json(),
            "stubs": self.stubs,
            "queued": self.queued,
        }


class Enrichment:
    """Built by the daemon once its stores and intake exist; ``run()`` is its task.

    It reads ``facts``, writes inferred edges through ``commit`` (which fans them out like
    any transaction), asks for hydration through ``enqueue``, and keeps what it processed
    in ``state_path``."""

    def __init__(
        self,
        facts: Facts,
        journal: EnrichmentJournal,
        *,
        commit: Commit,
        enqueue: Enqueue,
        unit_of: UnitOf,
        settings: EnrichmentConfig,
        state_path: Path,
        storage: StorageHealth,
        rules: Sequence[Rule] = RULES,
    ) -> None:
        self.facts = facts
        self.storage = storage
        self.journal = journal
        self._commit = commit
        self._enqueue = enqueue
        self._unit_of = unit_of
        self.config = settings
        self._state_path = state_path
        self.rules = tuple(rules)
        self._changed: set[int] = set()
        self._wake = asyncio.Event()
        self._wake.set()  # the start-up pass
        self._in_pass = False
        self._pass_lock = asyncio.Lock()  # a full pass on demand never overlaps the loop's
        self._full_needed = False
        #: stub entities, kept from commits after one lookup at start-up
        self._stubs: set[int] | None = None
        #: entities stating owner emails that did not all resolve to users
        self._unresolved_owners: set[int] = set()
        self._asks: dict[str, Ask] = {}
        self._due_left = 0
        self._next_due: float | None = None
        self._passes = 0
        self._last: PassReport | None = None
        self._last_full: PassReport | None = None
        self._last_started_at: float | None = None
        self._totals = Work()
        self._processed_tx = 0

    # -- what the daemon calls ------------------------------------------------------------

    def note(self, report: TxReport) -> None:
        """Every commit: remember what it touched and schedule a pass (not for our own)."""
        if report.meta.get("origin") == ORIGIN:
            return
        self._changed |= touched_entities(report)
        if self._stubs is not None:
            _track_stubs(self._stubs, report)
        self._wake.set()

    @property
    def settled(self) -> bool:
        """A pass has run since the last change and no stub is due for hydration (stubs
        waiting out a retry backoff, or of unconfigured sources, are not due)."""
        return (
            self._passes > 0
            and not self._in_pass
            and not self._changed
            and not self._wake.is_set()
            and self._due_left == 0
            and (self._next_due is None or time.monotonic() < self._next_due)
        )

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "passes": self._passes,
            "running": self._in_pass,
            "settled": self.settled,
            "interval_seconds": self.config.interval_seconds,
            "processed_tx": self._processed_tx,
            "pending_changes": len(self._changed),
            "last_pass": self._last.to_json() if self._last else None,
            "last_full_pass": self._last_full.to_json() if self._last_full else None,
            "totals": self._totals.to_json(),
            "stubs": len(self._stubs or ()),
            "unresolved_owner_refs": len(self._unresolved_owners),
            "asked_units": len(self._asks),
            "waiting_retry": sum(1 for a in self._asks.values() if a.due_at > now),
            "due": self._due_left,
            "rules": [str(rule) for rule in self.rules],
        }

    def asked(self) -> dict[str, int]:
        """unit -> times this loop asked for it while it stayed unresolved."""
        return {unit: ask.count for unit, ask in self._asks.items()}

    @property
    def last_pass_started_at(self) -> float | None:
        """When the last completed pass started (epoch seconds)."""
        return self._last_started_at

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """The enrichment loop, until cancelled."""
        try:
            await self._start_up()
        except Exception:  # without its bookkeeping, re-derive everything once
            log.exception("enrichment start-up failed; running a full pass instead")
            self._stubs = self._stubs if self._stubs is not None else set()
            self._full_needed = True
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # lands as the event fires, and the daemon's shutdown would wait forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sleep_budget()):
                    await self._wake.wait()
            kind = "periodic"
            if self._wake.is_set():
                kind = "incremental"
                await self._debounce()
            self._wake.clear()
            try:
                with self.storage.watch("enrichment"):
                    await self.run_pass(kind)
            except StorageFault:  # its changes are kept for the pass after the fault
                await self.storage.wait_ok()
                self._wake.set()
            except Exception:  # the loop must outlive any one pass
                log.exception("enrichment pass failed; retrying at the next one")

    def _sleep_budget(self) -> float:
        budget = self.config.interval_seconds
        if self._next_due is not None:
            budget = min(budget, max(0.0, self._next_due - time.monotonic()))
        return max(budget, 0.01)

    async def _debounce(self) -> None:
        first = time.monotonic()
        while time.monotonic() - first < MAX_DEFER_SECONDS:
            self._wake.clear()
            await asyncio.sleep(DEBOUNCE_SECONDS)
            if not self._wake.is_set():
                return

    async def _start_up(self) -> None:
        """Rebuild in-memory state and catch up with what happened while we were down.

        The bulk reads run in a thread on one view; hydration may commit meanwhile, and
        those commits are replayed onto the result (``note`` already has their changes).
        """
        db = self.facts.db()
        stubs, unresolved = await asyncio.to_thread(_incomplete, db)
        for report in self.facts.log(db.basis_tx + 1):
            if report.meta.get("origin") != ORIGIN:
                _track_stubs(stubs, report)
        self._stubs, self._unresolved_owners = stubs, unresolved
        state = self._load_state()
        processed = int(state.get("processed_tx", 0))
        same_rules = state.get("rules") == fingerprint(self.rules)
        missed = db.basis_tx - processed
        if db.basis_tx and (not same_rules or processed == 0 or missed > MAX_REPLAY):
            self._full_needed = True
        elif missed > 0:
            for report in self.facts.log(processed + 1, db.basis_tx + 1):
                if report.meta.get("origin") != ORIGIN:
                    self._changed |= touched_entities(report)
        self._processed_tx = processed
        self._wake.set()

    # -- one pass ---------------------------------------------------------------------------

    async def run_pass(self, kind: str = "incremental") -> PassReport:
        """Infer what the changes since the last pass imply, then ask for due hydrations."""
        async with self._pass_lock:
            return await self._run_pass(kind)

    async def _run_pass(self, kind: str) -> PassReport:
        self._in_pass = True
        started = time.monotonic()
        report = PassReport(kind, time.time())
        try:
            basis = self.facts.last_tx
            changed, self._changed = self._changed, set()
            report.changed = len(changed)
            touched = set(changed)
            if self._full_needed:
                report.kind = "full"
                self._full_needed = False
                await self._full(report.work, touched)
            else:
                await self._incremental(changed, report.work, touched)
            await self._check_owner_refs(changed)
            report.stubs, report.queued = await self._ask_for_hydration(report.work)
            await self._record_enriched(touched)
            self._processed_tx = max(self._processed_tx, basis)
            self._save_state()
        except Exception as exc:
            if storage_fault(exc) is not None:  # not inferred yet: the next pass does it
                self._changed |= changed
                self._full_needed = self._full_needed or report.kind == "full"
            raise
        finally:
            self._in_pass = False
        report.seconds = time.monotonic() - started
        self._passes += 1
        self._last_started_at = report.started_at
        self._last = report
        if report.kind == "full":
            self._last_full = report
        self._totals.merge(report.work)
        return report

    async def full_inference(self) -> PassReport:
        """Re-derive every inferred edge from the whole graph (start-up after a rule change,
        or on demand). Returns its report; ``work.examined`` is what it cost."""
        report = PassReport("full", time.time())
        started = time.monotonic()
        async with self._pass_lock:
            await self._full(report.work, set())
        report.seconds = time.monotonic() - started
        self._last_full = report
        return report

    async def _full(self, work: Work, touched: set[int]) -> None:
        """Every anchor, from one bulk read of the attributes each rule needs (read in a
        thread: a view is safe to share, and the event loop keeps serving meanwhile)."""
        for rule in self.rules:
            reader = await asyncio.to_thread(ScanReader, self.facts.db(), rule)
            await self._apply(rule, reader.anchors(rule), work, touched, reader)

    async def _incremental(self, changed: set[int], work: Work, touched: set[int]) -> None:
        if not changed:
            return
        ordered = sorted(changed)
        for rule in self.rules:
            anchors: set[int] = set()
            for chunk in _chunks(ordered, CHUNK):
                reader = PointReader(self.facts.db())
                anchors |= Evaluator(reader, rule, work).anchors_of(chunk)
                await asyncio.sleep(0)
            await self._apply(rule, sorted(anchors), work, touched)

    async def _apply(
        self,
        rule: Rule,
        anchors: Sequence[int],
        work: Work,
        touched: set[int],
        snapshot: Reader | None = None,
    ) -> None:
        """Evaluate and write in chunks, yielding between them.

        Without a ``snapshot`` each chunk reads a fresh view, so what it writes was derived
        from the state it lands on. A full pass reads one snapshot; commits landing while it
        runs are noted for the next pass, which corrects whatever they made stale.
        """
        meta = {"origin": ORIGIN, "rule": rule.name}
        shared = Evaluator(snapshot, rule, work) if snapshot is not None else None
        for chunk in _chunks(anchors, CHUNK):
            evaluator = shared or Evaluator(PointReader(self.facts.db()), rule, work)
            outcome = evaluator.reconcile(chunk)
            if outcome.ops:
                self._commit(outcome.ops, meta)
                touched |= outcome.changed
            await asyncio.sleep(0)

    # -- hydration of what is incomplete ----------------------------------------------------

    async def _check_owner_refs(self, changed: set[int]) -> None:
        db = self.facts.db()
        owned_by = F.rel_attr(Rel.OWNED_BY)
        unresolved = set()
        async for e in paced(changed):
            emails, owners = db.get(e, F.OWNER_EMAILS), db.refs_out(e, [owned_by])
            if _owners_unresolved(len(emails), len(owners), db.get(e, F.STATUS)):
                unresolved.add(e)
        self._unresolved_owners -= changed
        self._unresolved_owners |= unresolved

    async def _ask_for_hydration(self, work: Work) -> tuple[int, int]:
        """Queue hydration of due stubs and unresolved references. Returns (examined, queued)."""
        db = self.facts.db()
        now = time.monotonic()
        wanted: dict[str, tuple[str, str, str]] = {}  # unit -> (source, entity, reason)
        stubs = sorted(self._stubs or ())
        for reason, entities in (("stub", stubs), ("owners", sorted(self._unresolved_owners))):
            async for e in paced(entities):
                work.examined += 1
                xid = db.xid(e)
                unit = self._unit_of(xid) if xid else None
                if xid and unit and unit not in wanted:
                    wanted[unit] = (parse_aip_id(unit).source, xid, reason)
        self._asks = {u: a for u, a in self._asks.items() if u in wanted}
        due = [u for u in wanted if u not in self._asks or self._asks[u].due_at <= now]
        queued: list[QueuedEvent] = []
        if due:
            pending = {unit for _, unit, _ in await self.journal.pending()}
            for unit in due:
                ask = self._asks.setdefault(unit, Ask(0, now))
                if unit in pending:  # its own event got there first; look again later
                    ask.due_at = now + self.config.retry_seconds
                    continue
                if len(queued) >= self.config.batch_size:
                    continue
                ask.count += 1
                ask.due_at = now + min(
                    self.config.retry_seconds * 2 ** (ask.count - 1), MAX_ASK_BACKOFF_SECONDS
                )
                source, xid, reason = wanted[unit]
                raw = json.dumps({"unit": unit, "entity": xid, "reason": reason})
                queued.append(QueuedEvent(source, unit, f"enrichment:{reason}", None, raw))
        self._due_left = sum(1 for u in due if self._asks[u].due_at <= now)
        self._next_due = min((a.due_at for a in self._asks.values()), default=None)
        if queued:
            await self._enqueue(queued, ORIGIN)
        if self._due_left:
            self._wake.set()  # more than one batch is due: go again right away
        return len(wanted), len(queued)

    async def _record_enriched(self, entities: set[int]) -> None:
        if not entities:
            return
        db = self.facts.db()
        units = set()
        async for e in paced(entities):
            xid = db.xid(e)
            unit = self._unit_of(xid) if xid else None
            if unit:
                units.add(unit)
        await self.journal.record_enriched(sorted(units))

    # -- state across restarts ----------------------------------------------------------------

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self) -> None:
        state = {"processed_tx": self._processed_tx, "rules": fingerprint(self.rules)}
        write_json(self._state_path, state)


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _track_stubs(stubs: set[int], report: TxReport) -> None:
    """Keep ``stubs`` in step with a transaction (retractions come first, so a Replace of
    the status ends right)."""
    for d in report.datoms:
        if d.a == F.STATUS:
            if d.added and d.v == F.STATUS_STUB:
                stubs.add(d.e)
            elif d.v == F.STATUS_STUB or d.added:
                stubs.discard(d.e)


def _owners_unresolved(emails: int, owners: int, status: str | None) -> bool:
    """A resolved entity naming more owner emails than it has owners: they did not resolve
    when it was hydrated (identity down, or the user not known yet)."""
    return status == F.STATUS_RESOLVED and owners < emails


def _incomplete(db: Db) -> tuple[set[int], set[int]]:
    """(stubs, entities with unresolved owners) of a whole view, from bulk index reads."""
    stubs = set(db.lookup(F.STATUS, F.STATUS_STUB))
    emails = Counter(e for e, _ in db.entities_with(F.OWNER_EMAILS))
    owners = Counter(e for e, _ in db.entities_with(F.rel_attr(Rel.OWNED_BY)))
    status = dict(db.entities_with(F.STATUS))
    unresolved = {e for e, n in emails.items() if _owners_unresolved(n, owners[e], status.get(e))}
    return stubs, unresolved
