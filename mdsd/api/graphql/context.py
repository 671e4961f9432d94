"""What one GraphQL request reads: pinned ``Db`` views, each with its own DataLoaders.

A request pins the current view once, and its default view (the endpoint's ``as_of``, the
valid time, and ``known_at``, the system time); a root field's ``asOf``/``knownAt`` pick
another view derived from that same current one, so every field under it reads one
consistent moment however much is written meanwhile. Loaders are per view (a record as of
tx 5 is not the record now) and keyed by internal entity id, so a query touching an entity
through a hundred paths reads it once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from strawberry.dataloader import DataLoader

from mds.wire.model import Rel
from mdsd import facts as F
from mdsd.api.graphql.records import Record
from mdsd.api.ports import Search
from mdsd.reads.cost import Meter, MeteredDb, ReadLimits
from mdsd.reads.queries import entity_id
from mdsd.reads.units import UnitTimes
from mdsd.reads.views import at
from store import Db

T = TypeVar("T")


class Services(Protocol):
    """What the schema needs of the running daemon beyond the facts (the API's
    ``mdsd.api.ports.Services`` has it)."""

    @property
    def search(self) -> Search: ...

    @property
    def unit_times(self) -> Callable[[str], Awaitable[UnitTimes]]: ...


@dataclass(frozen=True, slots=True)
class Hop:
    """One step along a ref attribute: forwards (``out``) or against it (``into``)."""

    attr: str
    inward: bool


def out(rel: Rel) -> Hop:
    return Hop(F.rel_attr(rel), inward=False)


def into(rel: Rel) -> Hop:
    return Hop(F.rel_attr(rel), inward=True)


#: ids a payload lists without an edge of its own (a model's instances, a team's members)
MENTIONED = Hop(F.MENTIONS, inward=False)

Path = tuple[Hop, ...]


def via(*hops: Hop) -> tuple[Path, ...]:
    """The one path ``hops`` (fields take alternative paths; most have one)."""
    return (hops,)


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


class View:
    """A pinned ``Db`` and the batched reads of it: records and incoming refs."""

    def __init__(self, db: Db, meter: Meter, services: Services | None) -> None:
        self.db = db
        self.meter = meter
        self.services = services
        self.records: DataLoader[int, Record] = DataLoader(self._load_records)
        self.incoming: DataLoader[int, dict[str, list[int]]] = DataLoader(self._load_incoming)
        self.unit_times: DataLoader[str, UnitTimes] = DataLoader(self._load_unit_times)

    async def _load_records(self, eids: Sequence[int]) -> list[Record]:
        entity = self.db.entity
        return [Record(e, entity(e)) for e in eids]

    async def _load_incoming(self, eids: Sequence[int]) -> list[dict[str, list[int]]]:
        found = []
        for e in eids:
            by_attr: dict[str, list[int]] = defaultdict(list)
            for attr, source in self.db.refs_in(e):
                by_attr[attr].append(source)
            found.append(by_attr)
        return found

    async def _load_unit_times(self, xids: Sequence[str]) -> list[UnitTimes]:
        if self.services is None:
            return [None] * len(xids)
        return [await self.services.unit_times(x) for x in xids]

    async def record_of(self, xid: str) -> Record:
        """The record of an aip id; ``NotFound`` names the view when it is not there."""
        await self.meter.pace()
        return await self.records.load(entity_id(self.db, xid))

    async def load(self, eids: Sequence[int]) -> list[Record]:
        """The records of ``eids``, each charged to the request (a record read before is
        cheap to load, not to build into an answer again)."""
        await self.meter.pace(len(eids))
        return await self.records.load_many(eids)

    def run(self, query: Callable[..., T], *args: Any) -> T:
        """A REST question (``mdsd.reads.queries``) on this view, charged to the request."""
        return query(MeteredDb(self.db, self.meter), *args)

    async def step(self, eids: Sequence[int], hop: Hop) -> list[int]:
        await self.meter.pace(len(eids))
        if hop.inward:
            incoming = await self.incoming.load_many(eids)
            return _unique(src for refs in incoming for src in refs.get(hop.attr, ()))
        records = await self.records.load_many(eids)
        return _unique(t for r in records for t in r.refs(hop.attr))

    async def reach(self, start: int, paths: Sequence[Path]) -> list[int]:
        """Everything at the end of any of ``paths`` from ``start`` (a union, no repeats)."""
        found: list[int] = []
        for path in paths:
            frontier = [start]
            for hop in path:
                if not frontier:
                    break
                frontier = await self.step(frontier, hop)
            found += frontier
        return _unique(found)


@dataclass
class GraphContext:
    """The request context: the pinned current view, the default one, and any other
    moment a root field asks for (derived from the same current view, parsed once)."""

    current: Db
    services: Services | None
    meter: Meter = field(default_factory=lambda: Meter(ReadLimits()))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    default: View = field(init=False)
    _views: dict[tuple[int, datetime | None], View] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        current: Db,
        as_of: str | None,
        services: Services | None,
        limits: ReadLimits | None = None,
        known_at: str | None = None,
    ) -> GraphContext:
        """``as_of`` (valid time) and ``known_at`` (system time) are the endpoint's
        parameters: the moments of every root without its own; ``limits`` bound the whole
        request's work."""
        context = cls(current, services, Meter(limits or ReadLimits()))
        context.default = context._at(as_of, known_at)
        return context

    def view(self, as_of: str | None, known_at: str | None = None) -> View:
        """The view of a root field: its own ``asOf`` and ``knownAt``, else the request's
        default."""
        if as_of is None and known_at is None:
            return self.default
        return self._at(as_of, known_at)

    def _at(self, as_of: str | None, known_at: str | None) -> View:
        db = at(self.current, as_of, known_at, self.now)
        key = (db.basis_tx, db.valid_time)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = View(db, self.meter, self.services)
        return view
