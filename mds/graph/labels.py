"""How both clients name a kind in a list or a drawing: a short label of five letters at
most (``INST``, ``DVER``), so a column of mixed kinds lines up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND_LABELS: dict[str, str] = {
    "Model": "MODEL",
    "ModelInstance": "INST",
    "Pipeline": "PIPE",
    "PipelineRun": "RUN",
    "Feature": "FEAT",
    "FeatureView": "FVIEW",
    "FeatureService": "FSVC",
    "Dataset": "DATA",
    "DatasetVersion": "DVER",
    "Field": "FIELD",
    "AbTest": "A/B",
    "AbTestCell": "CELL",
    "User": "USER",
    "Team": "TEAM",
}


def kind_label(entity_type: str | None) -> str:
    """The short label of a kind; an unknown kind its first five letters."""
    return KIND_LABELS.get(entity_type or "") or (entity_type or "?")[:5].upper()


def node_label(node: Mapping[str, Any]) -> str:
    """``KIND name`` of an answer's node; the id's tail when it has no name."""
    name = node.get("name") or str(node.get("id", "")).rsplit("/", 1)[-1]
    return f"{kind_label(node.get('entity_type'))} {name}"
