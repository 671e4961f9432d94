"""An OpenLineage event -> what it says of mds entities at its ``eventTime``.

A job is a Pipeline, a run a PipelineRun (``run_of`` its job, ``reads`` its inputs,
``writes`` its outputs, ``parent_run`` its parent), a dataset a Dataset, and a dataset with
a ``datasetVersion`` facet also a DatasetVersion of it. The facets mds reads become fields
(``schema`` -> ``fields``, ``documentation`` -> description, ``ownership`` -> owner
emails, which ``owned`` resolves to users, ``errorMessage`` -> the run's error,
``columnLineage`` -> the dataset's ``column_lineage``, see ``columns``); every other facet
is kept whole as an attribute ``facet.{key}``. An event says only what it carries: a field
it leaves out is not cleared. A dataset of a namespace mapped to a source
(``[openlineage.namespaces]``) is that source's entity: the event links to it and leaves
describing it to its source; the column lineage of an output there stays on its run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openlineage.client.generated import base as ol
from openlineage.client.generated.column_lineage_dataset import ColumnLineageDatasetFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet

from mds.wire.model import EntityType, NormalizedEntity, Rel, parse_aip_id
from mdsd.connectors.base import Observed
from mdsd.connectors.ids import email_user
from mdsd.connectors.openlineage.columns import column_lineage, mapped_outputs, named_inputs
from mdsd.connectors.openlineage.ids import dataset_id, job_id, run_id, version_id
from mdsd.connectors.openlineage.parse import LineageEvent

#: a run's status after each kind of event (OTHER says nothing of it)
STATUS = {
    ol.EventType.START: "running",
    ol.EventType.RUNNING: "running",
    ol.EventType.COMPLETE: "succeeded",
    ol.EventType.FAIL: "failed",
    ol.EventType.ABORT: "aborted",
}
_ENDS = frozenset({ol.EventType.COMPLETE, ol.EventType.FAIL, ol.EventType.ABORT})
#: facets read into fields of their own, not kept whole
_READ = frozenset(
    {"schema", "documentation", "ownership", "datasetVersion", "parent", "columnLineage"}
)
_READ_RUN = _READ | {"errorMessage"}
#: what a job or dataset is fixed by, part of its id: the same in every event that names
#: it, so merged as its identity is (stated once, from its earliest event)
_FIXED = frozenset({"namespace"})


def observe(event: LineageEvent, namespaces: Mapping[str, str]) -> Observed:
    """The entities ``event`` describes, as of its ``eventTime``. ``namespaces`` maps a
    dataset namespace to the source key that owns its datasets."""
    model = event.model
    entities: list[NormalizedEntity] = []
    if isinstance(model, ol.DatasetEvent):
        entities += _datasets([model.dataset], namespaces)[1]
        return Observed(event.at, entities)
    job = _job(model.job)
    named = named_inputs(model.inputs or [], model.outputs or [])
    inputs, read = _datasets([*(model.inputs or []), *named], namespaces)
    outputs, written = _datasets(model.outputs or [], namespaces)
    entities += [job, *read, *written]
    if isinstance(model, ol.JobEvent):
        job.relationships[Rel.OUTPUTS] = [d for d in outputs if _is_dataset(d)]
        return Observed(event.at, entities)
    run = _run(model, event, job.id, inputs, outputs)
    elsewhere = mapped_outputs(model.outputs or [], namespaces)
    if elsewhere:
        run.attributes["output_column_lineage"] = elsewhere
    parent = (model.run.facets or {}).get("parent")
    if isinstance(parent, ParentRunFacet):
        parent_job = job_id(parent.job.namespace, parent.job.name)
        entities += [_named(EntityType.PIPELINE, parent_job, parent.job.name)]
        up = _named(
            EntityType.PIPELINE_RUN,
            run_id(parent.run.runId),
            run_name(parent.job.name, parent.run.runId),
        )
        up.relationships[Rel.RUN_OF] = [parent_job]
        entities.append(up)
        run.relationships[Rel.PARENT_RUN] = [up.id]
    entities.insert(0, run)
    return Observed(event.at, entities)


def _run(
    model: ol.RunEvent, event: LineageEvent, job: str, inputs: list[str], outputs: list[str]
) -> NormalizedEntity:
    facets = model.run.facets or {}
    run = _named(
        EntityType.PIPELINE_RUN, run_id(model.run.runId), run_name(model.job.name, model.run.runId)
    )
    kind = model.eventType
    if kind in STATUS:
        run.attributes["status"] = STATUS[kind]
    if kind is ol.EventType.START:
        run.attributes["started_at"] = event.at.isoformat()
    if kind in _ENDS:
        run.attributes["ended_at"] = event.at.isoformat()
    error = facets.get("errorMessage")
    if isinstance(error, ErrorMessageRunFacet):
        run.attributes["error_message"] = error.message
        run.attributes["error_language"] = error.programmingLanguage
        run.attributes["error_stack_trace"] = error.stackTrace
    run.attributes.update(_kept(facets, _READ_RUN))
    run.relationships = {Rel.RUN_OF: [job], Rel.READS: inputs, Rel.WRITES: outputs}
    return run


def run_name(job: str, run: str) -> str:
    """What a run is called: its job's name and the end of its run id (``orders.daily
    9cba2b4f``), the same in every event of the run, so lists and search tell runs apart
    and a search for the job finds its runs. The end, not the start: a UUIDv7 (what the
    OpenLineage client makes) begins with its time, shared by runs a minute apart."""
    return f"{job} {run.replace('-', '')[-8:]}"


def _job(job: ol.Job) -> NormalizedEntity:
    facets = job.facets or {}
    entity = _named(EntityType.PIPELINE, job_id(job.namespace, job.name), job.name)
    entity.attributes["namespace"] = job.namespace
    entity.fixed = _FIXED
    _describe(entity, facets)
    return entity


def _datasets(
    datasets: Iterable[ol.Dataset], namespaces: Mapping[str, str]
) -> tuple[list[str], list[NormalizedEntity]]:
    """(the ids a run reads or writes: each dataset and its version, the entities)."""
    ids: list[str] = []
    entities: list[NormalizedEntity] = []
    for dataset in datasets:
        facets: dict[str, Any] = {
            **(dataset.facets or {}),
            **(getattr(dataset, "inputFacets", None) or {}),
            **(getattr(dataset, "outputFacets", None) or {}),
        }
        xid = dataset_id(dataset.namespace, dataset.name, namespaces)
        version = facets.get("datasetVersion")
        if dataset.namespace in namespaces:  # its own source describes it: only named here
            ids.append(xid)
            if isinstance(version, DatasetVersionDatasetFacet):
                ids.append(version_id(xid, version.datasetVersion))
            continue
        entity = _named(EntityType.DATASET, xid, dataset.name)
        entity.attributes["namespace"] = dataset.namespace
        entity.fixed = _FIXED
        schema = facets.get("schema")
        if isinstance(schema, SchemaDatasetFacet):
            entity.attributes["fields"] = [
                {"name": f.name, "type": f.type, "description": f.description}
                for f in schema.fields or []
            ]
        lineage = facets.get("columnLineage")
        if isinstance(lineage, ColumnLineageDatasetFacet):
            entity.attributes["column_lineage"] = column_lineage(lineage, namespaces)
        _describe(entity, facets)
        ids.append(entity.id)
        entities.append(entity)
        if isinstance(version, DatasetVersionDatasetFacet):
            entities.append(_version(entity.id, version.datasetVersion))
            ids.append(entities[-1].id)
    return ids, entities


def _version(dataset: str, version: str) -> NormalizedEntity:
    xid = version_id(dataset, version)
    entity = _named(EntityType.DATASET_VERSION, xid, parse_aip_id(xid).native_id)
    entity.attributes["version"] = version
    entity.relationships[Rel.VERSION_OF] = [dataset]
    return entity


def _describe(entity: NormalizedEntity, facets: Mapping[str, Any]) -> None:
    """Description, owners and the facets kept whole, of a job or a dataset."""
    documentation = facets.get("documentation")
    if documentation is not None and not isinstance(documentation, dict):
        entity.description = documentation.description
    ownership = facets.get("ownership")
    if ownership is not None and not isinstance(ownership, dict):
        emails = [_email(owner.name) for owner in ownership.owners or []]
        entity.owner_emails = [email for email in emails if email]
        entity.attributes["ownership"] = [
            {"name": owner.name, "type": owner.type} for owner in ownership.owners or []
        ]
    entity.attributes.update(_kept(facets, _READ))


def owned(observed: Observed, known: Mapping[str, str]) -> Observed:
    """``observed`` with its owner emails resolved: to the identity user whose email it is
    (``known``: email -> user id), else to the user the whole email names (``email_user``,
    as every source's owners are), left for identity to describe. Keyed by the local part,
    alice@example.com and alice@other.org were one owner."""
    for entity in observed.entities:
        entity.owners = [known.get(email) or email_user(email) for email in entity.owner_emails]
    return observed


def _email(owner: str) -> str | None:
    """The email of an OpenLineage owner (``user:alice@example.com`` or the bare address)."""
    name = owner.removeprefix("user:")
    return name if "@" in name and ":" not in name else None


def _kept(facets: Mapping[str, Any], read: frozenset[str]) -> dict[str, Any]:
    """The facets mds does not read into fields, whole, as attributes ``facet.{key}``."""
    return {f"facet.{key}": facet for key, facet in facets.items() if key not in read}


def _named(entity_type: EntityType, xid: str, name: str) -> NormalizedEntity:
    parsed = parse_aip_id(xid)
    return NormalizedEntity(
        id=xid, entity_type=entity_type, source=parsed.source, native_id=parsed.native_id, name=name
    )


def _is_dataset(xid: str) -> bool:
    return parse_aip_id(xid).entity_type is EntityType.DATASET
