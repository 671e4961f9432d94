"""Ops that merge what events say (``Observed``) into what the store holds.

For sources whose events carry their content (OpenLineage), an entity's state is the merge
of its events by their own time, whatever order they arrive in. Each statement is dated at
the event's moment, and the store's valid time decides:

- identity (type, name, source, native id, status), the fields the mapping declares
  ``fixed`` (a dataset's namespace, part of its id) and relationships are the same
  whenever they are said: stated at an earlier moment they move their start back, at a
  later one they change nothing;
- a changing field (a run's status, a facet, a description, owners) holds each event's
  value from its moment until the next event that said something of it (``Interpose``):
  the latest event's value is current, and one delivered late lands between the values
  around it;
- what an event leaves out it does not say, so nothing is cleared.

A redelivered event states what is already true at the same moments: the store nets it
to nothing.

Many events are merged at once (``merge_layers``), in as few transactions as the store
allows. Writing each event in a transaction of its own cost a run's START as much as six
entities' worth of statements and a commit, most of them restating what the same batch
said of a shared job or dataset a moment before. A transaction states at most one moment
of an (entity, attribute) (two ``Interpose`` of it at different moments cannot share one,
and a ``Replace`` is what holds from its one moment on), so the events' statements are
laid out in layers, one transaction each, oldest first:

- a statement that only ever moves a start back (identity, a relationship, the entity's
  existence) is made once, at its earliest moment in the batch: stated again later it
  would change nothing;
- a ``Replace`` that says again what the one before it in the batch said is dropped for
  the same reason;
- every other statement of an (entity, attribute) goes to the next layer after that
  attribute's previous one, so its statements are written in the order of their moments,
  as they were one event at a time.

So a batch is as many transactions as the most moments one attribute is stated at (a job
run many times: its owners and update time), each holding only what still differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mds.wire.model import NormalizedEntity, Rel
from mdsd import facts as F
from mdsd.connectors.base import Observed
from store import Add, Created, Db, Interpose, Op, Replace

#: identity, stated by every event that describes an entity
_IDENTITY = (F.TYPE, F.NAME, F.SOURCE, F.NATIVE_ID, F.STATUS)


@dataclass(slots=True)
class _Plan:
    """The statements of a batch, before they are laid out in layers."""

    #: ops stated once, at their earliest moment: (entity, attribute, value) -> op
    once: dict[tuple[str, str, str], Op] = field(default_factory=dict)
    #: (entity, attribute) -> its statements in the order of their moments
    lines: dict[tuple[str, str], list[Op]] = field(default_factory=dict)
    #: entity -> the moments the batch describes it at, in order
    moments: dict[str, list[datetime]] = field(default_factory=dict)
    targets: set[str] = field(default_factory=set)

    def first(self, xid: str, attr: str, value: str, op: Add | Created) -> None:
        """``op`` unless the batch said it earlier (events come oldest first)."""
        self.once.setdefault((xid, attr, value), op)

    def replace(self, xid: str, attr: str, values: list[Any], at: datetime) -> None:
        """``values`` hold from ``at``: a statement unless the previous one said them."""
        line = self.lines.setdefault((xid, attr), [])
        last = line[-1] if line else None
        if not (isinstance(last, Replace) and list(last.values) == values):
            line.append(Replace(xid, attr, values, valid=at))

    def interpose(self, xid: str, attr: str, values: list[Any], at: datetime) -> None:
        """``values`` hold from ``at`` to the next statement; of two at one moment, the
        later said wins, as it would in a transaction after the other's."""
        line = self.lines.setdefault((xid, attr), [])
        if line and isinstance(line[-1], Interpose) and line[-1].valid == at:
            line.pop()
        line.append(Interpose(xid, attr, values, valid=at))


def merge_layers(
    db: Db, observed: Iterable[Observed], stub: Callable[[Db, str], list[Op]]
) -> list[list[Op]]:
    """The ops merging ``observed`` into ``db``, one list per transaction, to be written
    in order; ``stub`` makes a never-seen target. Events at one moment are taken in the
    order given (the later one's changing fields win)."""
    plan = _Plan()
    for observation in sorted(observed, key=lambda o: o.at):
        for entity in observation.entities:
            _entity(plan, entity, observation.at)
    for xid, moments in plan.moments.items():
        _times(plan, db, xid, moments)
    layers: list[list[Op]] = [list(plan.once.values())]
    for line in plan.lines.values():
        for depth, op in enumerate(line):
            if depth == len(layers):
                layers.append([])
            layers[depth].append(op)
    for target in sorted(plan.targets - plan.moments.keys()):
        layers[0] += stub(db, target)
    return [ops for ops in layers if ops]


def _entity(plan: _Plan, entity: NormalizedEntity, at: datetime) -> None:
    xid = entity.id
    plan.moments.setdefault(xid, []).append(at)
    plan.first(xid, "", "", Created(xid, at))
    identity = (str(entity.entity_type), entity.name, entity.source, entity.native_id)
    for attr, value in zip(_IDENTITY, (*identity, F.STATUS_RESOLVED), strict=True):
        plan.replace(xid, attr, [value], at)
    for rel, targets in entity.relationships.items():
        for target in targets:
            attr = F.rel_attr(rel)
            plan.first(xid, attr, target, Add(xid, attr, target, valid=at))
        plan.targets.update(targets)
    plan.targets.update(entity.owners)
    changing: list[tuple[str, list[Any]]] = [
        (F.attr_key(name), [value])
        for name, value in entity.attributes.items()
        if value is not None and name not in entity.fixed
    ]
    if entity.description is not None:
        changing.append((F.DESCRIPTION, [entity.description]))
    if entity.owner_emails:
        changing.append((F.OWNER_EMAILS, sorted(set(entity.owner_emails))))
        changing.append((F.rel_attr(Rel.OWNED_BY), sorted(set(entity.owners))))
    for attr, values in changing:
        plan.interpose(xid, attr, values, at)
    for name in entity.fixed:
        held = entity.attributes.get(name)
        if held is not None:
            plan.replace(xid, F.attr_key(name), [held], at)


def _times(plan: _Plan, db: Db, xid: str, moments: Sequence[datetime]) -> None:
    """An entity's ``created_at`` moves back to its earliest event; its ``updated_at`` is,
    at each moment, the latest event's up to then: each event's from its own moment to the
    next one's, so a late event lands between the two around it, as a changing field does."""
    e = db.entid(xid)
    created = None if e is None else db.get(e, F.CREATED_AT)
    if created is None or moments[0] < created:
        plan.replace(xid, F.CREATED_AT, [moments[0]], moments[0])
    for at in moments:
        plan.interpose(xid, F.UPDATED_AT, [at], at)
