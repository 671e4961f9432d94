"""What every connector for the reference REST API shares (contract 1.2).

A source is a set of collections: ``GET /api/v1/{collection}/{id}`` describes one
hydration unit and ``GET /api/v1/{collection}?limit=N&page_token=T`` lists them. A source
module declares its collections (each with a normalize function), its events and its key;
``RestConnector`` does the routing, fetching, 404 handling and paging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from mds.wire.model import EntityType, NormalizedEntity, parse_aip_id
from mdsd.connectors.base import (
    EventSpec,
    Gone,
    Hydrated,
    HydrationResult,
    InvalidPayload,
    Listed,
    SourceUnavailable,
)
from mdsd.connectors.http import HttpConnector, NotFound
from mdsd.connectors.ids import HOME, ref
from mdsd.connectors.payload import Payload


@dataclass(frozen=True, slots=True)
class Part:
    """Entities described inside their unit's payload (a test's cells, a dataset's versions)."""

    entity_type: EntityType
    #: a part's native id -> its unit's native id
    unit_native: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Collection:
    """One kind of hydration unit a source serves."""

    name: str  # the path segment: /api/v1/{name}
    entity_type: EntityType
    #: the unit's payload -> the unit's entity first, then its parts
    normalize: Callable[[Payload], list[NormalizedEntity]]
    part: Part | None = None
    #: the payload's id field, also accepted in listing items besides ``id``
    id_field: str = "id"

    def item_path(self, native_id: str) -> str:
        return f"/api/v1/{self.name}/{quote(native_id, safe='')}"


def lifecycle(
    prefix: str,
    entity_type: EntityType,
    id_field: str,
    verbs: tuple[str, ...] = ("created", "updated", "deleted"),
) -> dict[str, EventSpec]:
    """``{prefix}_{verb}`` events that all name one entity by ``id_field``."""
    return {f"{prefix}_{verb}": EventSpec(entity_type, (id_field,)) for verb in verbs}


class RestConnector(HttpConnector):
    """A connector for a source speaking the reference API; subclasses only declare."""

    collections: ClassVar[tuple[Collection, ...]]
    page_size: ClassVar[int] = 200

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for collection in getattr(cls, "collections", ()):  # ids.HOME must agree
            types = [collection.entity_type]
            if collection.part is not None:
                types.append(collection.part.entity_type)
            for et in types:
                if HOME[et] != cls.source:
                    raise TypeError(
                        f"{cls.__name__}: {et} belongs to {HOME[et]!r}, not {cls.source!r}"
                    )

    @classmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        """An event's first id field names its unit: ``dataset_version_created`` names the
        dataset by ``dataset_id``, its ``version`` only narrows down what changed."""
        spec = cls.events[event_type]
        return ref(cls._unit_type(spec.entity_type), ids[spec.id_fields[0]])

    @classmethod
    def unit_of(cls, entity_id: str) -> str:
        parsed = parse_aip_id(entity_id)
        for collection in cls.collections:
            part = collection.part
            if part is not None and part.entity_type == parsed.entity_type:
                return ref(collection.entity_type, part.unit_native(parsed.native_id))
        return entity_id

    async def hydrate(self, unit_id: str) -> HydrationResult:
        unit_id = self.unit_of(unit_id)
        collection, native = self._locate(unit_id)
        body = await self.client.get_json(collection.item_path(native))
        if isinstance(body, NotFound):
            return Gone(unit_id)
        where = f"{self.source} {collection.name}/{native}"
        entities = collection.normalize(Payload(body, where))
        if entities[0].id != unit_id:
            raise InvalidPayload(f"{where}: the payload describes {entities[0].id}")
        # a part listed twice is one part; the later mention wins
        return self.timed(Hydrated(list({e.id: e for e in entities}.values())))

    async def list_units(self) -> AsyncIterator[Listed]:
        for collection in self.collections:
            async for listed in self._walk(collection):
                yield listed

    def invalidate(self, unit_id: str) -> None:
        collection, native = self._locate(self.unit_of(unit_id))
        self.client.invalidate(self.client.url(collection.item_path(native)))

    async def _walk(self, collection: Collection) -> AsyncIterator[Listed]:
        where = f"{self.source} {collection.name} listing"
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {"limit": self.page_size}
            if token:
                params["page_token"] = token
            body = await self.client.get_json(f"/api/v1/{collection.name}", params, cache=False)
            if isinstance(body, NotFound):
                # never read as "the source holds nothing": reconciliation would delete it all
                raise SourceUnavailable(f"{where}: answered 404; is base_url right?")
            page = Payload(body, where)
            for item in page.objects("items"):
                native = item.id("id", collection.id_field)
                yield Listed(ref(collection.entity_type, native), item.text("updated_at"))
            token = page.text("next_page_token")
            if not token:
                return
            if token in seen:
                raise InvalidPayload(f"{where}: next_page_token {token!r} came back again")
            seen.add(token)

    @classmethod
    def _unit_type(cls, entity_type: EntityType) -> EntityType:
        for collection in cls.collections:
            if entity_type == collection.entity_type or (
                collection.part is not None and entity_type == collection.part.entity_type
            ):
                return collection.entity_type
        raise ValueError(f"{cls.source} has no collection for {entity_type}")

    @classmethod
    def _locate(cls, unit_id: str) -> tuple[Collection, str]:
        parsed = parse_aip_id(unit_id)
        if parsed.source == cls.source:
            for collection in cls.collections:
                if collection.entity_type == parsed.entity_type:
                    return collection, parsed.native_id
        raise ValueError(f"{unit_id} is not a unit of source {cls.source!r}")
