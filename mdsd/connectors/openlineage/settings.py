"""The ``[openlineage]`` config table.

It lives beside the source that reads it; ``mdsd.config`` assembles the whole file from it
(and checks that each namespace names a known source key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from serde import disabled, serde


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class OpenLineageConfig:
    #: dataset namespace -> the source key that owns its datasets: with
    #: ``"warehouse" = "datasets"`` the dataset {warehouse, playback-events} is
    #: aip://dataset/datasets/playback-events, the entity that source describes
    namespaces: dict[str, str] = field(default_factory=dict)
