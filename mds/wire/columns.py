"""Field-level lineage as both ends say it (``GET /v1/lineage?field=``, docs/api.md).

A node is a field, typed ``Field``, with the id ``{dataset id}#{field}``; an edge says how
the derived field comes from its input: its transformations, and its ``scope`` (``field``,
or ``dataset`` for an input that shapes the whole dataset). The daemon builds the answer,
the CLI and the explorer say each edge the same way (``how``).
"""

from __future__ import annotations

from typing import Any

FIELD_TYPE = "Field"
#: an input of the field itself, or of the whole dataset (a filter, a join key)
FIELD_SCOPE, DATASET_SCOPE = "field", "dataset"


def field_id(dataset: str, name: str) -> str:
    """A field's node id: ``{dataset id}#{field}``."""
    return f"{dataset}#{name}"


def how(edge: dict[str, Any]) -> str:
    """An edge's transformations as ``DIRECT/AGGREGATION`` (its type when it gives none),
    marked when the input shapes the whole dataset rather than this field alone."""
    steps = [
        "/".join(str(part) for part in (t.get("type"), t.get("subtype")) if part)
        for t in edge.get("transformations") or []
        if isinstance(t, dict)
    ]
    label = ",".join(step for step in steps if step) or str(edge.get("type"))
    return f"{label} (whole dataset)" if edge.get("scope") == DATASET_SCOPE else label
