"""Ops that merge what one event says (an ``Observed``) into what the store holds.

For sources whose events carry their content (OpenLineage), an entity's state is the merge
of its events by their own time, whatever order they arrive in. Each statement is dated at
the event's moment, and the store's valid time decides:

- identity (type, name, source, native id, status) and relationships are the same
  whenever they are said: stated at an earlier moment they move their start back, at a
  later one they change nothing;
- a changing field (a run's status, a facet, a description, owners) holds each event's
  value from its moment until the next event that said something of it (``Interpose``):
  the latest event's value is current, and one delivered late lands between the values
  around it;
- what an event leaves out it does not say, so nothing is cleared.

A redelivered event states what is already true at the same moments: the store nets it
to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mds.wire.model import NormalizedEntity, Rel
from mdsd import facts as F
from mdsd.connectors.base import Observed
from store import Add, Created, Db, Interpose, Op, Replace


def merge_ops(db: Db, observed: Observed, stub: Callable[[Db, str], list[Op]]) -> list[Op]:
    """The ops merging ``observed`` into ``db``; ``stub`` makes a never-seen target."""
    ops: list[Op] = []
    described = {entity.id for entity in observed.entities}
    targets: set[str] = set()
    for entity in observed.entities:
        ops += _entity(db, entity, observed.at)
        targets.update(t for values in entity.relationships.values() for t in values)
        targets.update(entity.owners)
    for target in sorted(targets - described):
        ops += stub(db, target)
    return ops


def _entity(db: Db, entity: NormalizedEntity, at: datetime) -> list[Op]:
    xid = entity.id
    ops: list[Op] = [Created(xid, at)]
    for attr, value in (
        (F.TYPE, str(entity.entity_type)),
        (F.NAME, entity.name),
        (F.SOURCE, entity.source),
        (F.NATIVE_ID, entity.native_id),
        (F.STATUS, F.STATUS_RESOLVED),
    ):
        ops.append(Replace(xid, attr, [value], valid=at))
    for rel, targets in entity.relationships.items():
        ops += [Add(xid, F.rel_attr(rel), target, valid=at) for target in targets]
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
    ops += [Interpose(xid, attr, values, valid=at) for attr, values in changing]
    e = db.entid(xid)
    created = None if e is None else db.get(e, F.CREATED_AT)
    updated = None if e is None else db.get(e, F.UPDATED_AT)
    if created is None or at < created:
        ops.append(Replace(xid, F.CREATED_AT, [at], valid=at))
    if updated is None or at > updated:
        ops.append(Replace(xid, F.UPDATED_AT, [at], valid=at))
    return ops
