"""A Feast registry (its ``RegistryProto``) -> mds entities, one hydration unit at a time.

A feature view (batch, on-demand or stream) is a FeatureView with its features as parts
(Features, ``parent`` the view); its Feast entities, with their join keys, are an attribute
of it. A data source is a Dataset, and a feature service a FeatureService. Lineage runs
data source <- view <- feature <- service (``derived_from``, ``uses_feature``); an
on-demand view is ``derived_from`` the views it reads.

Ids are ``aip://{kind}/feast/{project}/{name}`` (a feature: ``.../{project}/{view}/{name}``),
each part percent-encoded as in OpenLineage ids, so a name never splits the id. A data
source whose namespace is mapped (``[sources.feast] namespaces``) is the mapped source's
Dataset instead: the view links to it and leaves describing it to that source.

Valid time is Feast's: each object's ``meta.created_timestamp`` and
``last_updated_timestamp``. A feature has none of its own: it is known from its view's last
update (which stated it), and a view's entities date it too (their edits change it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag, aip_id, parse_aip_id
from mdsd.connectors.ids import mapped_dataset

SOURCE = "feast"
#: the unit kinds, and the event each is announced with (fields ``project`` and ``name``)
#: the entity Feast gives views that have none (``feast.feature_view.DUMMY_ENTITY_NAME``)
DUMMY_ENTITY = "__dummy"
UNIT_EVENTS: dict[EntityType, str] = {
    EntityType.FEATURE_VIEW: "feast_feature_view_changed",
    EntityType.FEATURE_SERVICE: "feast_feature_service_changed",
    EntityType.DATASET: "feast_data_source_changed",
}


def feast_id(entity_type: EntityType, *parts: str) -> str:
    return aip_id(entity_type, SOURCE, "/".join(quote(p, safe="") for p in parts))


def id_parts(xid: str) -> tuple[EntityType, list[str]]:
    """``aip://feature/feast/demo/stats/rate`` -> (Feature, ["demo", "stats", "rate"])."""
    parsed = parse_aip_id(xid)
    return parsed.entity_type, [unquote(p) for p in parsed.native_id.split("/")]


@dataclass(frozen=True, slots=True)
class Unit:
    """One hydration unit as the registry describes it: itself first, then its parts."""

    id: str
    updated_at: str | None
    entities: list[NormalizedEntity]


def units(registry: Any, projects: Iterable[str], namespaces: Mapping[str, str]) -> dict[str, Unit]:
    """Every unit of ``registry`` (a ``RegistryProto``) in ``projects`` (all when empty)."""
    wanted = frozenset(projects)

    def followed(proto: Any) -> bool:
        return not wanted or _project(proto) in wanted

    entities = {
        (e.spec.project, e.spec.name): e
        for e in registry.entities
        if e.spec.name != DUMMY_ENTITY  # Feast's stand-in for a view without entities
    }
    found: dict[str, Unit] = {}
    sources = [(s, s.project) for s in registry.data_sources if followed(s)]
    for view in [*registry.feature_views, *registry.stream_feature_views]:
        if followed(view):  # a view's own copy of its sources may not name a project
            embedded = (view.spec.batch_source, view.spec.stream_source)
            sources += [(s, s.project or view.spec.project) for s in embedded if s.name]
    for source, project in sources:
        unit = _data_source(source, project, namespaces)
        if unit is not None:
            found.setdefault(unit.id, unit)
    for kind, protos in (
        ("batch", registry.feature_views),
        ("stream", registry.stream_feature_views),
        ("on_demand", registry.on_demand_feature_views),
    ):
        for view in protos:
            if followed(view):
                unit = _view(view, kind, entities, namespaces)
                found[unit.id] = unit
    for service in registry.feature_services:
        if followed(service):
            unit = _service(service)
            found[unit.id] = unit
    return found


def _project(proto: Any) -> str:
    spec = getattr(proto, "spec", proto)  # a data source has no spec: it is its own
    return str(spec.project)


def _instant(timestamp: Any) -> str | None:
    if not timestamp.seconds and not timestamp.nanos:
        return None
    return str(timestamp.ToDatetime(tzinfo=UTC).isoformat())


def _newest(*instants: str | None) -> str | None:
    present = [i for i in instants if i]
    return max(present) if present else None


def _tags(tags: Mapping[str, str]) -> list[Tag]:
    return [Tag(k, v) for k, v in sorted(tags.items())]


def _entity(
    entity_type: EntityType, xid: str, name: str, spec: Any, meta: Any, **fields: Any
) -> NormalizedEntity:
    return NormalizedEntity(
        id=xid,
        entity_type=entity_type,
        source=SOURCE,
        native_id=parse_aip_id(xid).native_id,
        name=name,
        description=spec.description or None,
        owner_emails=[spec.owner] if spec.owner else [],
        tags=_tags(spec.tags),
        created_at=_instant(meta.created_timestamp),
        updated_at=_instant(meta.last_updated_timestamp),
        **fields,
    )


# -- data sources -----------------------------------------------------------------------------


def location(source: Any) -> tuple[str, str] | None:
    """A data source's (namespace, table) as OpenLineage names it (``file`` and a path,
    ``bigquery`` and ``project.dataset.table``, ...); None for a query or a request."""
    options = source.WhichOneof("options")
    if options == "file_options":
        uri = source.file_options.uri
        parts = urlsplit(uri)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")
        return "file", uri
    if options == "spark_options" and source.spark_options.path:
        return "file", source.spark_options.path
    if options == "kafka_options":
        kafka = source.kafka_options
        return f"kafka://{kafka.kafka_bootstrap_servers}", kafka.topic
    if options == "kinesis_options":
        return "kinesis", source.kinesis_options.stream_name
    if options is None or options in ("request_data_options", "custom_options"):
        return None
    table = getattr(source, options)
    qualified = [
        getattr(table, part, "") for part in ("database", "schema") if hasattr(table, part)
    ]
    name = ".".join(p for p in [*qualified, table.table] if p)
    return (options.removesuffix("_options"), name) if table.table else None


def data_source_ref(source: Any, project: str, namespaces: Mapping[str, str]) -> str | None:
    """The Dataset a view reads ``source`` as; None for a request source (not a table)."""
    if source.WhichOneof("options") == "request_data_options":
        return None
    where = location(source)
    if where is not None:
        mapped = mapped_dataset(*where, namespaces)
        if mapped is not None:
            return mapped
    return feast_id(EntityType.DATASET, source.project or project, source.name)


def _data_source(source: Any, project: str, namespaces: Mapping[str, str]) -> Unit | None:
    xid = data_source_ref(source, project, namespaces)
    if xid is None or parse_aip_id(xid).source != SOURCE:
        return None  # a request, or a table its own source describes
    where = location(source)
    entity = _entity(
        EntityType.DATASET,
        xid,
        source.name,
        source,
        source.meta,
        attributes={
            "project": project,
            "feast_type": type(source).SourceType.Name(source.type),
            "namespace": where[0] if where else None,
            "table": where[1] if where else None,
            "timestamp_field": source.timestamp_field or None,
        },
    )
    return Unit(xid, entity.updated_at, [entity])


# -- feature views ----------------------------------------------------------------------------


def _view(
    view: Any, kind: str, entities: Mapping[tuple[str, str], Any], namespaces: Mapping[str, str]
) -> Unit:
    spec, project = view.spec, view.spec.project
    xid = feast_id(EntityType.FEATURE_VIEW, project, spec.name)
    named = [entities[(project, n)] for n in spec.entities if (project, n) in entities]
    inputs: list[str] = []
    requests: list[str] = []
    if kind == "on_demand":
        for source in spec.sources.values():
            which = source.WhichOneof("source")
            if which == "feature_view":
                inputs.append(
                    feast_id(EntityType.FEATURE_VIEW, project, source.feature_view.spec.name)
                )
            elif which == "feature_view_projection":
                name = source.feature_view_projection.feature_view_name
                inputs.append(feast_id(EntityType.FEATURE_VIEW, project, name))
            elif which == "request_data_source":
                requests.append(source.request_data_source.name)
    else:
        for source in (spec.batch_source, spec.stream_source):
            ref = data_source_ref(source, project, namespaces) if source.name else None
            if ref is not None:
                inputs.append(ref)
    entity = _entity(
        EntityType.FEATURE_VIEW,
        xid,
        spec.name,
        spec,
        view.meta,
        attributes={
            "project": project,
            "view_type": kind,
            "ttl_seconds": spec.ttl.seconds if kind != "on_demand" else None,
            "entities": [
                {
                    "name": e.spec.name,
                    "join_key": e.spec.join_key,
                    "value_type": _value_type(e.spec.value_type),
                    "description": e.spec.description or None,
                }
                for e in named
            ]
            or None,
            "request_sources": sorted(requests) or None,
            "online": spec.online if kind != "on_demand" else None,
        },
        relationships={Rel.DERIVED_FROM: inputs},
    )
    entity.updated_at = _newest(
        entity.updated_at, *(_instant(e.meta.last_updated_timestamp) for e in named)
    )
    features = [_feature(entity, project, f) for f in spec.features]
    return Unit(xid, entity.updated_at, [entity, *features])


def _value_type(value: int) -> str | None:
    """Feast's name of a value type (``FLOAT``, ``INT64``); None where it is not set."""
    from feast.protos.feast.types.Value_pb2 import ValueType

    return str(ValueType.Enum.Name(value)) if value else None


def _feature(view: NormalizedEntity, project: str, spec: Any) -> NormalizedEntity:
    xid = feast_id(EntityType.FEATURE, project, view.name, spec.name)
    return NormalizedEntity(
        id=xid,
        entity_type=EntityType.FEATURE,
        source=SOURCE,
        native_id=parse_aip_id(xid).native_id,
        name=spec.name,
        description=spec.description or None,
        tags=_tags(spec.tags),
        attributes={
            "project": project,
            "feature_view": view.name,
            "value_type": _value_type(spec.value_type),
        },
        relationships={Rel.DERIVED_FROM: [view.id]},
        began_at=view.updated_at,
        changed_at=view.updated_at,
        parent=view.id,
    )


# -- feature services -------------------------------------------------------------------------


def _service(service: Any) -> Unit:
    spec, project = service.spec, service.spec.project
    xid = feast_id(EntityType.FEATURE_SERVICE, project, spec.name)
    features = [
        feast_id(EntityType.FEATURE, project, projection.feature_view_name, column.name)
        for projection in spec.features
        for column in projection.feature_columns
    ]
    entity = _entity(
        EntityType.FEATURE_SERVICE,
        xid,
        spec.name,
        spec,
        service.meta,
        attributes={"project": project},
        relationships={Rel.USES_FEATURE: features},
    )
    return Unit(xid, entity.updated_at, [entity])
