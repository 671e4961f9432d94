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

#: units of this source merged at once. A unit (a run, or the dataset or job a static
#: event is about) is independent of the others, and its events are merged in one write
#: in ``eventTime`` order whatever the concurrency; a merge waits on the journal's read of
#: its events (and identity, for owners), so while one waits another writes. Merged one
#: at a time, a burst of 4,000 events through ``POST /api/v1/lineage`` was merged 12 s
#: after its last acknowledgement; four or more at once kept up (0.7 s). Writes are CPU
#: on the event loop, so more only takes turns from the doors.
CONCURRENCY = 8


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
    owners go through."""

    def __init__(self, namespaces: Mapping[str, str], users: UsersByEmail) -> None:
        self.namespaces = dict(namespaces)
        self.users = users

    async def __call__(self, raws: Sequence[str]) -> list[Observed]:
        observed = []
        for raw in raws:
            try:
                observed.append(observe(parse_lineage(json.loads(raw)), self.namespaces))
            except (InvalidLineage, ValueError) as exc:  # judged at the door: not expected
                raise InvalidPayload(f"queued OpenLineage event: {exc}") from exc
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
