"""What a section is, and the small helpers every source's sections share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from mds.client import ApiError, Client
from mds.wire import JSON
from tui.asof import Moments
from tui.nav import Location

#: how many related entities a section fetches to show their details
FETCH_LIMIT = 12
#: attributes a section lays out whole, so the page's one-line attribute list leaves them
#: out (a schema or a column lineage clipped to 40 characters of JSON says nothing)
LAID_OUT = frozenset({"fields", "column_lineage", "output_column_lineage"})


@dataclass
class Link:
    """An entity a section points at; the page lists it with the relationships."""

    group: str
    id: str
    name: str
    entity_type: str | None = None
    note: str = ""
    #: the page Enter opens instead of the entity's (a field's column lineage)
    opens: Location | None = None


@dataclass
class Section:
    title: str
    body: Text
    links: list[Link] = field(default_factory=list)
    #: the entity's attributes the section lays out: the page's attribute line leaves
    #: them out, so no fact reads twice ("status staged", then "Deployment staged")
    shows: frozenset[str] = frozenset()


Loader = Callable[[Client, JSON, Moments], Awaitable[Section | None]]


def rels(entity: JSON, rel_type: str, direction: str | None = None) -> list[JSON]:
    return [
        r
        for r in entity.get("relationships", [])
        if r.get("type") == rel_type and (direction is None or r.get("direction") == direction)
    ]


async def fetch_many(client: Client, ids: Iterable[str], moments: Moments) -> list[JSON]:
    """Fetch up to :data:`FETCH_LIMIT` entities concurrently; ones that vanished are skipped."""
    gate = asyncio.Semaphore(6)

    async def one(entity_id: str) -> JSON | None:
        async with gate:
            try:
                return await client.entity(entity_id, **moments)
            except ApiError:
                return None

    found = await asyncio.gather(*(one(i) for i in list(dict.fromkeys(ids))[:FETCH_LIMIT]))
    return [doc for doc in found if doc is not None]


def line(body: Text, label: str, *values: Text | str) -> None:
    """A labelled line of a section's body."""
    if body:
        body.append("\n")
    body.append(f"{label:<13}", style="bold")
    for value in values:
        body.append_text(value if isinstance(value, Text) else Text(value))


def attr(doc: JSON, key: str) -> Any:
    """One of the source's own attributes of an entity answer."""
    return (doc.get("attributes") or {}).get(key)
