"""OpenLineage: the run events pipelines already emit (Airflow, Spark, dbt, ...), a source
whose events carry their content, so there is nothing to read back.

Intake judges an event (``parse``) and queues it whole under its unit (``unit_of``: the
run, or the dataset or job a static event is about) in the journal; the hydrator hands the
unit's queued events to ``Lineage`` instead of fetching, and the writer merges what they
say (``mapping``) by their own ``eventTime``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence

from openlineage.client.generated import base as ol

from mdsd.connectors.base import InvalidPayload, Observed
from mdsd.connectors.openlineage.ids import SOURCE, dataset_id, job_id, run_id
from mdsd.connectors.openlineage.mapping import observe, owned
from mdsd.connectors.openlineage.parse import (
    InvalidLineage,
    LineageEvent,
    looks_like_lineage,
    parse_lineage,
)

#: merges of this source's units at once. A merge takes every unit queued then (up to
#: ``hydrator.MERGE_UNITS``) and writes them together; a unit (a run, or the dataset or job
#: a static event is about) is merged in ``eventTime`` order whatever the concurrency.
#: While one merge waits on the journal's read of its events (and identity, for owners),
#: the other writes; more only split a burst into smaller merges, each a few transactions
#: of its own, and take turns from the doors (writes are CPU on the event loop).
CONCURRENCY = 2


def unit_of(event: LineageEvent) -> str:
    """The unit an event is queued under: its events are merged together, in one write."""
    model = event.model
    if isinstance(model, ol.RunEvent):
        return run_id(model.run.runId)
    if isinstance(model, ol.DatasetEvent):
        return dataset_id(model.dataset.namespace, model.dataset.name, {})
    return job_id(model.job.namespace, model.job.name)


def event_type(event: LineageEvent) -> str:
    """``openlineage:START``, ``openlineage:DatasetEvent``, ...: what the journal shows."""
    model = event.model
    kind = model.eventType.value if isinstance(model, ol.RunEvent) and model.eventType else None
    return f"{SOURCE}:{kind or type(model).__name__}"


def event_id(event: object) -> str:
    """The id of an event's content (decoded JSON): the same event sent twice is one
    redelivery, however its keys were ordered or spaced."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


#: owner emails -> the identity user of each email identity knows; raises
#: ``SourceUnavailable`` while identity cannot say (``Fetcher.users_by_email``)
UsersByEmail = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]


class Lineage:
    """The hydrator's reader for this source: a unit's queued events -> what they say.

    ``namespaces`` is ``[openlineage.namespaces]``: dataset namespace -> source key;
    ``users`` resolves owner emails through identity, the same lookup every source's
    owners go through. Reading and resolving owners are apart so that a batch of units
    is read unit by unit (one unit's bad event is that unit's dead letter, not the
    batch's) and its owners resolved in one look-up."""

    def __init__(self, namespaces: Mapping[str, str], users: UsersByEmail) -> None:
        self.namespaces = dict(namespaces)
        self.users = users

    def read(self, events: Sequence[tuple[str, object]]) -> list[Observed]:
        """What a unit's queued events say, each (raw text, what the door made of it or
        ``None``): judged again only where the door's judgement is not at hand (after a
        restart); ``InvalidPayload`` if one cannot be read."""
        observed = []
        for raw, judged in events:
            try:
                if not isinstance(judged, LineageEvent):
                    judged = parse_lineage(json.loads(raw))
                observed.append(observe(judged, self.namespaces))
            except (InvalidLineage, ValueError) as exc:  # judged at the door: not expected
                raise InvalidPayload(f"queued OpenLineage event: {exc}") from exc
        return observed

    async def owned(self, observed: Sequence[Observed]) -> list[Observed]:
        """``observed`` with their owners resolved to identity's users where it knows the
        email; raises ``SourceUnavailable`` while identity cannot say."""
        emails = sorted({e for o in observed for entity in o.entities for e in entity.owner_emails})
        known = await self.users(emails) if emails else {}
        return [owned(o, known) for o in observed]


__all__ = [
    "CONCURRENCY",
    "SOURCE",
    "InvalidLineage",
    "Lineage",
    "LineageEvent",
    "event_id",
    "event_type",
    "looks_like_lineage",
    "parse_lineage",
    "unit_of",
]
