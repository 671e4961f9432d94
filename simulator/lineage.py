"""OpenLineage for part of the world: the jobs that land raw datasets' partitions.

No pipeline of the orchestrator writes a raw dataset: its partitions land from the event
stream. The jobs that land them describe themselves in OpenLineage instead, as a Spark or
Flink job does: one run per partition, ``START`` then ``COMPLETE``, reading the dataset's
Kafka topic and writing the dataset, with the new version in a ``datasetVersion`` facet.
The dataset is named in the ``warehouse`` namespace, which a daemon's
``[openlineage.namespaces]`` maps to the datasets source (``NAMESPACES``): there it *is*
the datasets source's entity, so the landing runs join the reference graph, and a model's
upstream (feature, its source dataset, the raw datasets under it) reaches through them.

The landing jobs adopted OpenLineage a month before ``EPOCH`` (``ADOPTED``): partitions
that landed earlier have no run events, as on a platform that turned the integration on
one day. So the lineage is a part of the world, about a tenth of its runs' worth.

Everything here follows from the records (a raw dataset's versions and owners), never from
the world's random draws: a seed's world is the same with or without its lineage, and the
run ids are name-based UUIDs, the same each time.
"""

from __future__ import annotations

import calendar
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from simulator.clock import DAY, EPOCH, rfc3339
from simulator.records import Event, Record

__all__ = ["NAMESPACES", "landing_run", "landing_runs", "run_events"]

#: the dataset namespace of the warehouse, and the source key a daemon maps it to
WAREHOUSE = "warehouse"
NAMESPACES = {WAREHOUSE: "datasets"}
#: where raw events come from: one topic per raw dataset, named as the dataset
TOPICS = "kafka://events:9092"
JOB_NAMESPACE = "ingestion"
PRODUCER = "https://github.com/mds/simulator"
SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACET = "https://openlineage.io/spec/facets/1-0-1/{}.json"
_RUNS = uuid.UUID("6f0d3c4e-3b1a-4c8e-9d7f-5a2b1c0e9f84")  # the namespace of landing run ids
#: since when the landing jobs send run events (2024-12-01): partitions landed before
#: this have none
ADOPTED = rfc3339(EPOCH - 31 * DAY)
#: a landing takes between one and 31 minutes, by its run id
_LONGEST_SECONDS = 1800


def _seconds(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def landing_run(dataset: Record, version: Record) -> Record:
    """The run that landed ``version`` of the raw ``dataset``: what its events say."""
    native = dataset["id"]
    run_id = str(uuid.uuid5(_RUNS, f"{native}@{version['version']}"))
    ended = version["created_at"]
    took = 60 + zlib.crc32(run_id.encode()) % _LONGEST_SECONDS
    return {
        "run_id": run_id,
        "job": {"namespace": JOB_NAMESPACE, "name": f"land-{native}"},
        "inputs": [{"namespace": TOPICS, "name": native}],
        "outputs": [{"namespace": WAREHOUSE, "name": native, "version": version["version"]}],
        "owner_emails": list(dataset.get("owner_emails") or []),
        "started_at": rfc3339(_seconds(ended) - took),
        "ended_at": ended,
    }


def landing_runs(datasets: Iterable[Record]) -> Iterator[Record]:
    """Every landing run since ``ADOPTED`` of the raw datasets among ``datasets``, each
    dataset's oldest first."""
    for dataset in datasets:
        if not dataset.get("upstream_dataset_ids"):
            for version in dataset.get("versions") or []:
                if version["created_at"] >= ADOPTED:
                    yield landing_run(dataset, version)


def run_events(run: Record) -> list[Event]:
    """A landing run's ``START`` and ``COMPLETE``, as an OpenLineage producer sends them."""
    (output,) = run["outputs"]
    version = _facet("DatasetVersionDatasetFacet", datasetVersion=output["version"])
    owners = [{"name": f"user:{email}", "type": "OWNER"} for email in run["owner_emails"]]
    job = {
        "namespace": run["job"]["namespace"],
        "name": run["job"]["name"],
        "facets": {"ownership": _facet("OwnershipJobFacet", owners=owners)},
    }
    written = {"namespace": output["namespace"], "name": output["name"]}
    return [
        {
            "eventType": kind,
            "eventTime": at,
            "producer": PRODUCER,
            "schemaURL": SPEC,
            "run": {"runId": run["run_id"], "facets": {}},
            "job": job,
            "inputs": [dict(read, facets={}) for read in run["inputs"]],
            "outputs": [dict(written, facets={"datasetVersion": version})],
        }
        for kind, at in (("START", run["started_at"]), ("COMPLETE", run["ended_at"]))
    ]


def _facet(name: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": _FACET.format(name), **fields}
