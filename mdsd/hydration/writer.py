"""The writer: a source's current description of a hydration unit -> one transaction.

It states what the source says now (``Replace`` per attribute, so vanished fields and
edges are retracted), makes stubs for referenced entities it has never seen, deletes parts
that left their unit, and refuses data older than what it holds (the source's
``updated_at`` never goes backwards). Unchanged input writes nothing: the store nets what
is already true.

Every statement carries its valid time (contract 4, ``Dating``): an entity exists from its
``created_at``, what was fixed at creation holds from then, what changes from the source's
``updated_at``. Stubs and deletions are known when mds learns of them, the transaction's
own time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mds.wire.model import IDENTITY, NormalizedEntity, Rel, parse_aip_id
from mdsd import facts as F
from mdsd.connectors.base import Gone, Hydrated, HydrationResult, Observed
from mdsd.hydration.merging import merge_layers
from store import Add, Created, Db, FactStore, Op, Replace, TxReport

#: Relationships the writer owns; inferred ones belong to enrichment.
DECLARED_RELS = tuple(rel for rel in Rel if rel is not Rel.TESTED_IN)


@dataclass(slots=True)
class WriteOutcome:
    report: TxReport | None
    #: aip ids whose payload was older than what the store holds, so was not written
    stale: list[str] = field(default_factory=list)
    #: the transactions that wrote new points of the entities' series, oldest first
    series: list[TxReport] = field(default_factory=list)


def parse_instant(value: str | None) -> datetime | None:
    """An RFC 3339 instant; ``None`` for anything else, a time without a zone included
    (it names no instant, and could not be compared with the ones held)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class Dating:
    """When each field of one entity's write holds from (contract 4).

    Identity and the fields the connector declares fixed hold from ``created_at``;
    ``undated`` ones from when mds sees them (the transaction's own time); every other field
    from ``updated_at``, or when mds saw it if the source gives none. A fixed field is
    dated as a change, not from creation, once the store holds the entity with another
    value for it: the source changed what it said was fixed, and the old value stays in
    history for the time it held.
    """

    def __init__(self, db: Db, e: int | None, held: Mapping[str, Any], entity: NormalizedEntity):
        self.db = db
        self.held = held
        self.entity = entity
        #: the source's own timestamps, as the entity states them
        self.created_at = parse_instant(entity.created_at)
        self.updated_at = parse_instant(entity.updated_at)
        #: what dates its fields: those, else the times the connector dates it by
        self.created = self.created_at or parse_instant(entity.began_at)
        self.updated = self.updated_at or parse_instant(entity.changed_at)
        #: never described before: absent, or only a stub named by someone else
        self.first = e is None or held.get(F.STATUS) == F.STATUS_STUB

    def valid(self, name: str, attr: str, values: list[Any]) -> datetime | None:
        """The valid time of stating ``values`` for the field ``name`` (attribute ``attr``)."""
        if name in self.entity.undated:
            return None
        fixed = name in IDENTITY or name in self.entity.fixed or attr == F.STATUS
        if fixed and self.created is not None and (self.first or self._holds(attr, values)):
            return self.created
        return self.updated

    def _holds(self, attr: str, values: list[Any]) -> bool:
        """Whether the store holds exactly ``values`` for ``attr`` now."""
        value = self.held.get(attr)
        held = [] if value is None else value if isinstance(value, list) else [value]
        if self.db.store.info(attr).is_ref:  # held as entity ids, stated as aip ids
            held = [self.db.xid(v) for v in held]
        return _canonical(held) == _canonical(values)


def _canonical(values: Iterable[Any]) -> list[str]:
    return sorted(json.dumps(v, sort_keys=True, default=str) for v in values)


class Writer:
    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._installed: set[str] = {a.name for a in store.attributes}

    def write(
        self,
        result: HydrationResult,
        owners: Mapping[str, list[str]],
        cause: dict[str, Any],
    ) -> WriteOutcome:
        """Write one unit. ``owners`` maps entity id -> resolved owner user ids."""
        db = self.store.db()
        ops: list[Op] = []
        outcome = WriteOutcome(report=None)
        if isinstance(result, Gone):
            ops += self._delete_unit(db, result.id)
        else:
            primary = result.entities[0]
            if self._is_older(db, primary):
                outcome.stale.append(primary.id)
                return outcome
            self._ensure_attributes(e for e in result.entities)
            kept = {e.id for e in result.entities}
            for entity in result.entities:
                ops += self._state(db, entity, owners.get(entity.id, []), kept)
            for part in self._parts(db, primary.id):
                if part not in kept:
                    ops += self._delete_entity(db, part)
        outcome.report = self.store.transact(ops, cause)
        if isinstance(result, Hydrated):
            outcome.series = self._write_series(result.entities, cause)
        return outcome

    def write_units(
        self,
        units: Sequence[tuple[Hydrated, Mapping[str, list[str]]]],
        cause: dict[str, Any],
    ) -> list[WriteOutcome] | None:
        """Several units, each as ``write`` would, in one transaction (their series after
        it, together); ``None`` when they cannot share one, to be written one by one: an
        entity stated by two of them, or a part one would delete that another states.

        A transaction's fixed costs (its log record, the write to RocksDB, one round of
        indexing, change feed and enrichment bookkeeping) are paid once for the lot. The
        units are planned from one view, as ``write`` plans one: with no entity in common,
        what one says does not change what another's plan reads. A referenced entity
        another unit of the lot describes gets no stub. Each outcome carries the shared
        transaction if it changed one of the unit's entities; stale units write nothing."""
        stated = [{e.id for e in result.entities} for result, _ in units]
        everything: set[str] = set()
        for ids in stated:
            if ids & everything:
                return None
            everything |= ids
        db = self.store.db()
        ops: list[Op] = []
        outcomes: list[WriteOutcome] = []
        written: list[tuple[WriteOutcome, set[str]]] = []
        described: list[NormalizedEntity] = []
        for (result, owners), kept in zip(units, stated, strict=True):
            outcome = WriteOutcome(report=None)
            outcomes.append(outcome)
            primary = result.entities[0]
            if self._is_older(db, primary):
                outcome.stale.append(primary.id)
                continue
            self._ensure_attributes(result.entities)
            for entity in result.entities:
                ops += self._state(db, entity, owners.get(entity.id, []), everything)
            for part in self._parts(db, primary.id):
                if part in everything - kept:
                    return None
                if part not in kept:
                    ops += self._delete_entity(db, part)
            written.append((outcome, kept))
            described += result.entities
        report = self.store.transact(ops, cause) if ops else None
        series = self._write_series(described, cause)
        after = self.store.db()
        touched = report.entities if report is not None else set()
        for outcome, kept in written:
            eids = {after.entid(xid) for xid in kept}
            if eids & touched:
                outcome.report = report
            outcome.series = [r for r in series if eids & r.entities]
        return outcomes

    def _write_series(
        self, entities: Iterable[NormalizedEntity], cause: dict[str, Any]
    ) -> list[TxReport]:
        """The points of each entity's series after the last one held, each at its own
        moment: one transaction per step, as a transaction states one value per attribute
        (the k-th new point of every series goes in the k-th transaction). Most units have
        no series: they cost no view of the store."""
        entities = [entity for entity in entities if entity.series]
        if not entities:
            return []
        db = self.store.db()
        steps: list[list[Op]] = []
        for entity in entities:
            e = db.entid(entity.id)
            for name, points in entity.series.items():
                attr = F.attr_key(name)
                held_from = None if e is None else db.valid_from(e, attr)
                new = [
                    (moment, value)
                    for moment, value in ((parse_instant(t), v) for t, v in points)
                    if moment is not None and (held_from is None or moment > held_from)
                ]
                for k, (moment, value) in enumerate(new):
                    if k == len(steps):
                        steps.append([])
                    steps[k].append(Replace(entity.id, attr, [value], valid=moment))
        reports = [self.store.transact(ops, cause) for ops in steps]
        return [r for r in reports if r is not None]

    def observe(self, observed: Iterable[Observed], cause: dict[str, Any]) -> list[TxReport]:
        """Merge what events that carry their content say (``mdsd.hydration.merging``):
        a batch of them in as few transactions as their moments allow, oldest first, so a
        run's START and COMPLETE written together still leave it running between the two.
        The transactions follow one another without a pause: each was planned from what
        the store held before the first."""
        observed = list(observed)
        self._ensure_attributes(entity for o in observed for entity in o.entities)
        reports = []
        for ops in merge_layers(self.store.db(), observed, self._stub):
            report = self.store.transact(ops, cause)
            if report is not None:
                reports.append(report)
        return reports

    def ensure_stubs(self, ids: Iterable[str], cause: dict[str, Any]) -> TxReport | None:
        """Create stubs for ids never seen (used when an event names an unknown entity)."""
        db = self.store.db()
        ops: list[Op] = []
        for xid in ids:
            ops += self._stub(db, xid)
        return self.store.transact(ops, cause) if ops else None

    # -- pieces ---------------------------------------------------------------------------

    def _is_older(self, db: Db, entity: NormalizedEntity) -> bool:
        incoming = parse_instant(entity.updated_at)
        e = db.entid(entity.id)
        if incoming is None or e is None:
            return False
        held = db.get(e, F.UPDATED_AT)
        return held is not None and incoming < held and db.get(e, F.STATUS) != F.STATUS_DELETED

    def _ensure_attributes(self, entities: Iterable[NormalizedEntity]) -> None:
        missing = {
            F.attr_key(name)
            for entity in entities
            for name in [*entity.attributes, *entity.series]
            if F.attr_key(name) not in self._installed
        }
        if missing:
            self.store.install(F.scalar_attribute(k[len(F.ATTR_PREFIX) :]) for k in missing)
            self._installed |= missing

    def _state(
        self, db: Db, entity: NormalizedEntity, owners: list[str], described: set[str]
    ) -> list[Op]:
        """Ops that make the store say exactly what the source says about ``entity``, each
        at the valid time its source gives it (``Dating``).

        ``described`` are the ids this write states in full: never stubs, even when a part
        refers to its unit before the unit exists (a new test's cells point at the test).
        """
        xid = entity.id
        e = db.entid(xid)
        held = db.entity(e) if e is not None else {}
        dating = Dating(db, e, held, entity)
        created, updated = dating.created, dating.updated
        ops: list[Op] = [Created(xid, created)] if created is not None else []
        stated: list[tuple[str, str, list[Any]]] = [
            ("type", F.TYPE, [str(entity.entity_type)]),
            ("name", F.NAME, [entity.name]),
            ("description", F.DESCRIPTION, [entity.description] if entity.description else []),
            ("source", F.SOURCE, [entity.source]),
            ("native_id", F.NATIVE_ID, [entity.native_id]),
            ("status", F.STATUS, [F.STATUS_RESOLVED]),
            ("tags", F.TAGS, [{"tag": t.tag, "value": t.value} for t in entity.tags]),
            ("owners", F.OWNER_EMAILS, sorted(set(entity.owner_emails))),
            ("parent", F.PARENT, [entity.parent] if entity.parent else []),
            ("mentions", F.MENTIONS, sorted(set(entity.mentions))),
            ("created_at", F.CREATED_AT, [dating.created_at] if dating.created_at else []),
        ]
        present = {F.attr_key(k) for k, v in entity.attributes.items() if v is not None}
        present |= {F.attr_key(k) for k in entity.series}  # written point by point, after
        stated += [
            (name, F.attr_key(name), [] if value is None else [value])
            for name, value in entity.attributes.items()
        ]
        stated += [
            (k[len(F.ATTR_PREFIX) :], k, [])
            for k in held
            if k.startswith(F.ATTR_PREFIX) and k not in present
        ]
        targets: set[str] = set(entity.mentions) | set(owners)
        for rel in DECLARED_RELS:
            if rel is Rel.OWNED_BY:
                name, values = "owners", sorted(set(owners))
            else:
                name, values = str(rel), sorted(set(entity.relationships.get(rel, [])))
            if values or F.rel_attr(rel) in held:
                stated.append((name, F.rel_attr(rel), values))
            targets.update(values)
        ops += [
            Replace(xid, attr, values, valid=dating.valid(name, attr, values))
            for name, attr, values in stated
        ]
        # the update time is itself dated: it is when the source last changed the entity
        said = dating.updated_at
        ops.append(Replace(xid, F.UPDATED_AT, [said] if said else [], valid=updated))
        for target in sorted(targets - described):
            ops += self._stub(db, target)
        return ops

    def _stub(self, db: Db, xid: str) -> list[Op]:
        if db.entid(xid) is not None:
            return []
        try:
            parsed = parse_aip_id(xid)
        except ValueError:
            return []
        return [
            Add(xid, F.TYPE, str(parsed.entity_type)),
            Add(xid, F.NAME, parsed.native_id),
            Add(xid, F.SOURCE, parsed.source),
            Add(xid, F.NATIVE_ID, parsed.native_id),
            Add(xid, F.STATUS, F.STATUS_STUB),
        ]

    def _parts(self, db: Db, unit: str) -> list[str]:
        e = db.entid(unit)
        if e is None:
            return []
        return [x for x in (db.xid(src) for _, src in db.refs_in(e, [F.PARENT])) if x]

    def _delete_unit(self, db: Db, unit: str) -> list[Op]:
        ops = self._delete_entity(db, unit)
        for part in self._parts(db, unit):
            ops += self._delete_entity(db, part)
        return ops

    def _delete_entity(self, db: Db, xid: str) -> list[Op]:
        """Mark deleted and drop its outgoing edges; name and type stay for history."""
        e = db.entid(xid)
        if e is None:
            return []
        held = db.entity(e)
        ops: list[Op] = [Replace(xid, F.STATUS, [F.STATUS_DELETED])]
        ops += [
            Replace(xid, k, [])
            for k in held
            if k.startswith(F.REL_PREFIX) and k != F.rel_attr(Rel.TESTED_IN)
        ]
        return ops
