"""Datasets and their versions (contract 1.2, ``datasets``).

A dataset's versions come with the dataset's payload, so a version is a part of its
dataset's unit, and ``dataset_version_created`` hydrates the dataset.
"""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import EventSpec, timing
from mdsd.connectors.ids import dataset_of_version, dataset_version_native
from mdsd.connectors.payload import Payload, by_time, entity, newest, refs
from mdsd.connectors.rest import Collection, Part, RestConnector, lifecycle


def dataset(p: Payload) -> list[NormalizedEntity]:
    dataset_id = p.id("id")
    versions = p.objects("versions")
    latest = newest(versions, by_time("created_at"))
    unit = entity(
        p,
        EntityType.DATASET,
        dataset_id,
        attributes={
            "latest_version": latest.scalar("version") if latest else None,
            "version_count": len(versions),
        },
        relationships={Rel.DERIVED_FROM: refs(EntityType.DATASET, p.ids("upstream_dataset_ids"))},
    )
    return [unit, *(_version(unit.id, dataset_id, v) for v in versions)]


def _version(unit_id: str, dataset_id: str, v: Payload) -> NormalizedEntity:
    native = dataset_version_native(dataset_id, v.id("version"))
    return entity(
        v,
        EntityType.DATASET_VERSION,
        native,
        name=native,
        attributes={
            "version": v.scalar("version"),
            "row_count": v.scalar("row_count"),
            "created_at": v.text("created_at"),
        },
        relationships={Rel.VERSION_OF: [unit_id]},
        parent=unit_id,
    )


class DatasetsConnector(RestConnector):
    source = "datasets"
    events = {
        **lifecycle("dataset", EntityType.DATASET, "dataset_id"),
        "dataset_version_created": EventSpec(EntityType.DATASET_VERSION, ("dataset_id", "version")),
    }
    collections = (
        Collection(
            "datasets",
            EntityType.DATASET,
            dataset,
            part=Part(EntityType.DATASET_VERSION, dataset_of_version),
        ),
    )
    #: a dataset's upstream is part of its definition; a version never changes at all
    timings = {
        EntityType.DATASET: timing(fixed=(Rel.DERIVED_FROM,)),
        EntityType.DATASET_VERSION: timing(
            fixed=(Rel.VERSION_OF, "parent", "version", "row_count", "created_at")
        ),
    }
