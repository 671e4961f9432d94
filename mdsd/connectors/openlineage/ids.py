"""The aip ids of OpenLineage's jobs, runs and datasets (docs/api.md, "OpenLineage").

A namespace and a name are percent-encoded whole (every byte but ``A-Za-z0-9-._~``), so
``postgres://db:5432`` and ``public.orders`` never put a ``/`` into the native id: the id
splits back into its parts, and two datasets never share one. ``[openlineage.namespaces]``
names the source that owns a dataset namespace: there the dataset *is* that source's
entity, named by its plain name, so the same table is one entity however it is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from mds.wire.model import EntityType, aip_id, parse_aip_id
from mdsd.connectors.ids import mapped_dataset

SOURCE = "openlineage"


def encoded(part: str) -> str:
    """``part`` with every byte but ``A-Za-z0-9-._~`` percent-encoded."""
    return quote(part, safe="")


def job_id(namespace: str, name: str) -> str:
    return aip_id(EntityType.PIPELINE, SOURCE, f"{encoded(namespace)}/{encoded(name)}")


def run_id(run: str) -> str:
    return aip_id(EntityType.PIPELINE_RUN, SOURCE, encoded(run))


def dataset_id(namespace: str, name: str, namespaces: Mapping[str, str]) -> str:
    """The dataset's id: the mapped source's own entity when its namespace is mapped."""
    mapped = mapped_dataset(namespace, name, namespaces)
    if mapped is not None:
        return mapped
    return aip_id(EntityType.DATASET, SOURCE, f"{encoded(namespace)}/{encoded(name)}")


def version_id(dataset: str, version: str) -> str:
    """``{dataset id}@{version}``, as a DatasetVersion of the dataset's source."""
    parsed = parse_aip_id(dataset)
    return aip_id(EntityType.DATASET_VERSION, parsed.source, f"{parsed.native_id}@{version}")
