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


CELL_PREFIX = "aip://ab-test-cell/"


def kind_label(entity_type: str | None) -> str:
    """The short label of a kind; an unknown kind its first five letters."""
    return KIND_LABELS.get(entity_type or "") or (entity_type or "?")[:5].upper()


def display_name(item: Mapping[str, Any]) -> str | None:
    """The name an entity is shown by (an answer's item or relationship): its own, except
    that an A/B cell (``control``, ``treatment``: the same in every test) is prefixed by
    its test's number, which its id carries (``12345 · control``)."""
    name = item.get("name") or item.get("target_name")
    xid = str(item.get("id") or item.get("target") or "")
    if name and xid.startswith(CELL_PREFIX):
        test = xid[len(CELL_PREFIX) :].split("/", 1)[-1].rsplit("/", 1)[0]
        return f"{test} · {name}"
    return str(name) if name else None


def node_label(node: Mapping[str, Any]) -> str:
    """``KIND name`` of an answer's node; the id's tail when it has no name."""
    name = display_name(node) or str(node.get("id", "")).rsplit("/", 1)[-1]
    return f"{kind_label(node.get('entity_type'))} {name}"
