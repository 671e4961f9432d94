"""Ops that merge what one event says (an ``Observed``) into what the store holds.

For sources whose events carry their content (OpenLineage), an entity's state is the merge
of its events by their own time, whatever order they arrive in. Each statement is dated at
the event's moment, and the store's valid time decides:

- identity (type, name, source, native id, status) and relationships are the same
  whenever they are said: stated at an earlier moment they move their start back, at a
  later one they change nothing;
- a changing field (a run's status, a facet, a description, owners) takes the latest
  event's value. An event later than the held value replaces it from its moment. An
  earlier one (a late delivery) lands at its own time: it is stated there, and the held
  value is stated again from when it held (``restate``, a second transaction), so the
  current state stays the latest event's and the past shows the late one;
- what an event leaves out it does not say, so nothing is cleared.

A redelivered event states what is already true at the same moments: the store nets it
to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mds.wire.model import NormalizedEntity, Rel
from mdsd import facts as F
from mdsd.connectors.base import Observed
from store import Add, Created, Db, Op, Replace


@dataclass(slots=True)
class Merge:
    """The ops of one observation: ``now`` at its moment, then ``restate`` (when it was
    late for some field) in a transaction of its own."""

    ops: list[Op] = field(default_factory=list)
    restate: list[Op] = field(default_factory=list)


def merge_ops(db: Db, observed: Observed, stub: Callable[[Db, str], list[Op]]) -> Merge:
    """The ops merging ``observed`` into ``db``; ``stub`` makes a never-seen target."""
    merge = Merge()
    described = {entity.id for entity in observed.entities}
    targets: set[str] = set()
    for entity in observed.entities:
        _entity(db, entity, observed.at, merge)
        targets.update(t for values in entity.relationships.values() for t in values)
        targets.update(entity.owners)
    for target in sorted(targets - described):
        merge.ops += stub(db, target)
    return merge


def _entity(db: Db, entity: NormalizedEntity, at: datetime, merge: Merge) -> None:
    xid = entity.id
    e = db.entid(xid)
    merge.ops.append(Created(xid, at))
    for attr, value in (
        (F.TYPE, str(entity.entity_type)),
        (F.NAME, entity.name),
        (F.SOURCE, entity.source),
        (F.NATIVE_ID, entity.native_id),
        (F.STATUS, F.STATUS_RESOLVED),
    ):
        merge.ops.append(Replace(xid, attr, [value], valid=at))
    for rel, targets in entity.relationships.items():
        merge.ops += [Add(xid, F.rel_attr(rel), target, valid=at) for target in targets]
    changing: list[tuple[str, list[Any]]] = [
        (F.attr_key(name), [value])
        for name, value in entity.attributes.items()
        if value is not None
    ]
    if entity.description is not None:
        changing.append((F.DESCRIPTION, [entity.description]))
    if entity.owner_emails:
        changing.append((F.OWNER_EMAILS, sorted(set(entity.owner_emails))))
        changing.append((F.rel_attr(Rel.OWNED_BY), sorted(set(entity.owners))))
    for attr, values in changing:
        _latest(db, e, xid, attr, values, at, merge)
    if e is None:
        merge.ops.append(Replace(xid, F.CREATED_AT, [at], valid=at))
        merge.ops.append(Replace(xid, F.UPDATED_AT, [at], valid=at))
        return
    created, updated = db.get(e, F.CREATED_AT), db.get(e, F.UPDATED_AT)
    if created is None or at < created:
        merge.ops.append(Replace(xid, F.CREATED_AT, [at], valid=at))
    if updated is None or at > updated:
        merge.ops.append(Replace(xid, F.UPDATED_AT, [at], valid=at))


def _latest(
    db: Db, e: int | None, xid: str, attr: str, values: list[Any], at: datetime, merge: Merge
) -> None:
    """State a changing field at ``at``; when the held value is from later, state it
    again from then, so the latest event's value stays current. A late event whose value
    already holds at its moment (a redelivery) states nothing."""
    held_from = None if e is None else db.valid_from(e, attr)
    if held_from is None or held_from <= at:
        merge.ops.append(Replace(xid, attr, values, valid=at))
        return
    if _canonical(_held(db.valid_at(at), e, attr)) == _canonical(values):
        return
    merge.ops.append(Replace(xid, attr, values, valid=at))
    merge.restate.append(Replace(xid, attr, _held(db, e, attr), valid=held_from))


def _held(db: Db, e: int | None, attr: str) -> list[Any]:
    """The values of ``attr`` in ``db``, as ops state them (refs by xid)."""
    assert e is not None
    value = db.get(e, attr)
    if attr.startswith(F.REL_PREFIX):
        return [db.xid(v) for v in value]
    if attr == F.OWNER_EMAILS:
        return list(value)
    return [] if value is None else [value]  # one value, which may itself be a JSON list


def _canonical(values: Iterable[Any]) -> list[str]:
    return sorted(json.dumps(v, sort_keys=True, default=str) for v in values)
