"""The one small interface every source system plugs in through.

A connector knows one source's events, its hydration API and how to normalize what it
returns. Adding a source means one new module with a ``Connector`` subclass, registered in
``mdsd.connectors.CONNECTORS`` by its source key, plus a ``[sources.KEY]`` config table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from mds.wire.model import EntityType, NormalizedEntity
from mdsd.connectors.policy import SourcePolicy


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What an event type names: the entity type it is about and its required id fields."""

    entity_type: EntityType
    id_fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hydrated:
    """A source's current description of one hydration unit.

    ``entities[0]`` is the unit itself; the rest are its parts (an A/B test's cells, a
    dataset's versions), each with ``parent`` set to the unit's id.
    """

    entities: list[NormalizedEntity]


@dataclass(frozen=True, slots=True)
class Gone:
    """The source answered 404: the unit no longer exists."""

    id: str


HydrationResult = Hydrated | Gone


@dataclass(frozen=True, slots=True)
class Observed:
    """What one event that carries its content (OpenLineage) says of some entities at its
    moment ``at``. Unlike ``Hydrated`` it is not the whole of them: a field left empty is
    not said, so it is not cleared, and relationships add to those held."""

    at: datetime
    entities: list[NormalizedEntity]


@dataclass(frozen=True, slots=True)
class Listed:
    """One row of a source's listing endpoint, for reconciliation."""

    id: str
    updated_at: str | None


@dataclass(frozen=True, slots=True)
class Timing:
    """How a source dates the fields of one entity kind (contract 4).

    ``fixed`` fields are set when the source creates the entity and hold from its
    ``created_at``; ``undated`` ones change without the source's ``updated_at`` saying
    when, so they are known only from when mds saw them; every other field is known from
    ``updated_at``. Names are ``mds.wire.model.FIELDS``, relationship types or attribute
    names.
    """

    fixed: frozenset[str] = frozenset()
    undated: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        both = self.fixed & self.undated
        if both:
            raise ValueError(f"fields both fixed and undated: {sorted(both)}")


def timing(fixed: tuple[str, ...] = (), undated: tuple[str, ...] = ()) -> Timing:
    return Timing(frozenset(fixed), frozenset(undated))


class Connector(ABC):
    """One source system. Subclasses set ``source`` and ``events`` and implement the rest."""

    #: the source key of contract section 1 (``registry``, ``orchestrator``, ...)
    source: str
    #: event_type -> what it names
    events: Mapping[str, EventSpec]
    #: entity kind -> how this source dates its fields; a kind not listed has only its
    #: identity fixed, and every other field dated by its ``updated_at``
    timings: ClassVar[Mapping[EntityType, Timing]] = {}
    #: the type of its ``[sources.KEY]`` table: an HTTP source's policy, unless the source
    #: is read some other way (a Feast registry)
    policy_type: ClassVar[type[SourcePolicy]] = SourcePolicy

    def __init__(self, policy: SourcePolicy) -> None:
        """Every connector is built from its ``[sources.KEY]`` config table alone."""
        self.policy = policy

    @classmethod
    def timed(cls, result: HydrationResult) -> HydrationResult:
        """``result`` with each entity carrying its kind's ``Timing``, for the writer.
        Every connector's ``hydrate`` returns through it."""
        if not isinstance(result, Hydrated):
            return result
        return Hydrated([cls.timed_entity(e) for e in result.entities])

    @classmethod
    def timed_entity(cls, entity: NormalizedEntity) -> NormalizedEntity:
        declared = cls.timings.get(entity.entity_type)
        if declared is None:
            return entity
        return replace(entity, fixed=declared.fixed, undated=declared.undated)

    @classmethod
    @abstractmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        """The aip id of the hydration unit an (already validated) event points at.

        A class method: ids map to units without a connection, so events are validated
        and routed before any connector is built.
        """

    @classmethod
    @abstractmethod
    def unit_of(cls, entity_id: str) -> str:
        """The hydration unit that describes ``entity_id`` (a cell -> its test)."""

    @abstractmethod
    async def hydrate(self, unit_id: str) -> HydrationResult:
        """Fetch the unit's current state from the source and normalize it.

        Raises ``SourceUnavailable`` when the source cannot answer after retries, and
        ``InvalidPayload`` when its answer cannot be normalized.
        """

    @abstractmethod
    def list_units(self) -> AsyncIterator[Listed]:
        """Every unit the source holds now, for reconciliation."""

    def invalidate(self, unit_id: str) -> None:
        """Forget any cached response for the unit, so the next ``hydrate`` reads the source.

        Call it before hydrating for an event: the event says the source changed after
        whatever the short-lived response cache may hold.
        """
        return None

    def stats(self) -> dict[str, object]:
        """Counters and state of the source's HTTP client, for ``mds status``."""
        return {}

    async def aclose(self) -> None:
        """Release the connector's HTTP client."""
        return None


class SourceUnavailable(Exception):
    """The source could not be reached or kept failing; the work is retried later."""


class InvalidPayload(ValueError):
    """A source answered with something that cannot be normalized (the reason names the
    field). Retrying will not help until the source changes."""
