"""The ``columnLineage`` facet -> the field-level lineage an output Dataset keeps.

The facet sits on the dataset a job writes and says, for each of its fields, which fields
of which datasets it is computed from (``fields``), and since facet 1-1 which input fields
shape the whole dataset (``dataset``: a filter, a join key, a grouping). mds keeps it on
the dataset as the attribute ``column_lineage``, its inputs named by mds dataset ids (after
``[openlineage.namespaces]``, so an input in a mapped namespace is that source's entity)::

    {"fields": {"total": [{"dataset": ID, "field": "amount", "transformations": [...]}]},
     "dataset": [{"dataset": ID, "field": "status", "transformations": [...]}]}

An output in a mapped namespace is its source's entity, which an event does not describe:
its column lineage stays on the run that wrote it (``mapped_outputs``).

An input the facet names is one its run reads, even when the event leaves it out of its
``inputs`` (``dbt-ol`` lists no seed a model selects from): ``named_inputs`` adds those, so
dataset lineage and the downstream walk of field lineage reach them.

Each transformation is ``{"type", "subtype", "description", "masking"}`` as given. Facet
1-0-x says how a field was computed once for all its inputs (``transformationType``,
``transformationDescription``); that becomes the transformation of each of its inputs, so
readers see one form whichever version a producer speaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openlineage.client.generated import base as ol
from openlineage.client.generated.column_lineage_dataset import (
    ColumnLineageDatasetFacet,
    Fields,
    InputField,
    Transformation,
)

from mdsd.connectors.openlineage.ids import dataset_id


def column_lineage(
    facet: ColumnLineageDatasetFacet, namespaces: Mapping[str, str]
) -> dict[str, Any]:
    """The ``column_lineage`` attribute of the dataset carrying ``facet``."""
    return {
        "fields": {
            name: [_input(source, namespaces, _legacy(field)) for source in field.inputFields]
            for name, field in facet.fields.items()
        },
        "dataset": [_input(source, namespaces, []) for source in facet.dataset or []],
    }


def named_inputs(
    inputs: Iterable[ol.Dataset], outputs: Iterable[ol.Dataset]
) -> list[ol.InputDataset]:
    """The datasets the outputs' column lineage reads from that ``inputs`` leaves out."""
    listed = {(d.namespace, d.name) for d in inputs}
    named: dict[tuple[str, str], None] = {}
    for output in outputs:
        facet = (output.facets or {}).get("columnLineage")
        if not isinstance(facet, ColumnLineageDatasetFacet):
            continue
        sources = [s for field in facet.fields.values() for s in field.inputFields]
        for source in [*sources, *(facet.dataset or [])]:
            named.setdefault((source.namespace, source.name), None)
    return [ol.InputDataset(ns, name) for ns, name in named if (ns, name) not in listed]


def mapped_outputs(
    outputs: Iterable[ol.Dataset], namespaces: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The column lineage of the outputs in mapped namespaces, by dataset id. Such a
    dataset is its own source's entity, so the run that wrote it keeps its column lineage
    (``output_column_lineage``), and reads find it there."""
    kept: dict[str, dict[str, Any]] = {}
    for output in outputs:
        facet = (output.facets or {}).get("columnLineage")
        if output.namespace in namespaces and isinstance(facet, ColumnLineageDatasetFacet):
            xid = dataset_id(output.namespace, output.name, namespaces)
            kept[xid] = column_lineage(facet, namespaces)
    return kept


def _input(
    source: InputField, namespaces: Mapping[str, str], legacy: list[dict[str, Any]]
) -> dict[str, Any]:
    given = [_transformation(t) for t in source.transformations or []]
    return {
        "dataset": dataset_id(source.namespace, source.name, namespaces),
        "field": source.field,
        "transformations": given or legacy,
    }


def _transformation(transformation: Transformation) -> dict[str, Any]:
    return {
        "type": transformation.type,
        "subtype": transformation.subtype,
        "description": transformation.description,
        "masking": transformation.masking,
    }


def _legacy(field: Fields) -> list[dict[str, Any]]:
    """Facet 1-0-x's one transformation of a whole field, when it gives one."""
    if field.transformationType is None and field.transformationDescription is None:
        return []
    return [
        {
            "type": field.transformationType,
            "subtype": None,
            "description": field.transformationDescription,
            "masking": None,
        }
    ]
