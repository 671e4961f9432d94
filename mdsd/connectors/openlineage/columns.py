"""The ``columnLineage`` facet -> the field-level lineage an output Dataset keeps.

The facet sits on the dataset a job writes and says, for each of its fields, which fields
of which datasets it is computed from (``fields``), and since facet 1-1 which input fields
shape the whole dataset (``dataset``: a filter, a join key, a grouping). mds keeps it on
the dataset as the attribute ``column_lineage``, its inputs named by mds dataset ids (after
``[openlineage.namespaces]``, so an input in a mapped namespace is that source's entity)::

    {"fields": {"total": [{"dataset": ID, "field": "amount", "transformations": [...]}]},
     "dataset": [{"dataset": ID, "field": "status", "transformations": [...]}]}

Each transformation is ``{"type", "subtype", "description", "masking"}`` as given. Facet
1-0-x says how a field was computed once for all its inputs (``transformationType``,
``transformationDescription``); that becomes the transformation of each of its inputs, so
readers see one form whichever version a producer speaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
