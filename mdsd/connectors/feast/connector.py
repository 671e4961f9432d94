"""Feast as a source: a feature registry read through Feast's own registry classes.

Feast sends no change events, so ``poll`` reads the registry on an interval and announces
the units that changed as thin ``feast_*_changed`` events; like every event they only say
what to re-read, and ``hydrate`` reads that unit from the registry again. A unit is a
feature view (with its features), a feature service or a data source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping

from mds.wire.model import EntityType
from mdsd.connectors.base import (
    Connector,
    EventSpec,
    Gone,
    Hydrated,
    HydrationResult,
    Listed,
    SourceUnavailable,
)
from mdsd.connectors.feast.mapping import SOURCE, UNIT_EVENTS, Unit, feast_id, id_parts, units
from mdsd.connectors.feast.reading import RegistryReader
from mdsd.connectors.feast.settings import FeastPolicy
from mdsd.connectors.policy import SourcePolicy


class FeastConnector(Connector):
    """Reads one Feast registry (file or SQL) for the projects ``[sources.feast]`` names."""

    source = SOURCE
    policy_type = FeastPolicy
    events = {event: EventSpec(kind, ("project", "name")) for kind, event in UNIT_EVENTS.items()}

    def __init__(self, policy: SourcePolicy) -> None:
        if not isinstance(policy, FeastPolicy):
            raise TypeError(f"the feast source needs a FeastPolicy, got {type(policy).__name__}")
        super().__init__(policy)
        self.feast = policy
        self.reader = RegistryReader(policy)
        #: the registry's units as last read, and when (``time.monotonic``)
        self._read: tuple[float, dict[str, Unit]] | None = None
        #: reads of the registry, those that failed, and the latest failure (None once a
        #: read succeeds again), for ``mds status``
        self.reads = 0
        self.errors = 0
        self.last_error: str | None = None
        #: counters of the services feeding this source (the poll), shown in ``mds status``
        self.services: dict[str, Callable[[], dict[str, object]]] = {}

    @classmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        return feast_id(cls.events[event_type].entity_type, ids["project"], ids["name"])

    @classmethod
    def unit_of(cls, entity_id: str) -> str:
        """A feature is part of its view: ``.../{project}/{view}/{feature}`` -> the view."""
        kind, parts = id_parts(entity_id)
        if kind is EntityType.FEATURE:
            return feast_id(EntityType.FEATURE_VIEW, *parts[:2])
        return entity_id

    async def current(self, *, fresh: bool = False) -> dict[str, Unit]:
        """Every unit the registry holds, read within ``cache_ttl_seconds`` unless
        ``fresh``. Raises ``SourceUnavailable`` when the registry cannot be read."""
        held = self._read
        if not fresh and held and time.monotonic() - held[0] < self.feast.cache_ttl_seconds:
            return held[1]
        self.reads += 1
        try:
            found = await asyncio.to_thread(self._read_units)
        except SourceUnavailable as exc:
            self.errors += 1
            self.last_error = str(exc)
            raise
        self.last_error = None
        self._read = (time.monotonic(), found)
        return found

    def _read_units(self) -> dict[str, Unit]:
        return units(self.reader.read(), self.feast.projects, self.feast.namespaces)

    async def hydrate(self, unit_id: str) -> HydrationResult:
        unit_id = self.unit_of(unit_id)
        unit = (await self.current()).get(unit_id)
        return self.timed(Hydrated(unit.entities) if unit else Gone(unit_id))

    async def list_units(self) -> AsyncIterator[Listed]:
        for unit in (await self.current(fresh=True)).values():
            yield Listed(unit.id, unit.updated_at)

    def invalidate(self, unit_id: str) -> None:
        self._read = None

    def stats(self) -> dict[str, object]:
        """In the HTTP sources' terms: ``state`` is ``open`` while the registry cannot be
        read (the last read failed), else ``closed``; ``requests`` and ``errors`` count
        registry reads."""
        return {
            "state": "open" if self.last_error else "closed",
            "requests": self.reads,
            "errors": self.errors,
            "last_error": self.last_error,
            "registry": self.feast.registry,
            **{name: service() for name, service in self.services.items()},
        }
