"""The Feature Store: features (contract 1.2, ``featurestore``)."""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import timing
from mdsd.connectors.payload import Payload, by_time, entity, newest, refs
from mdsd.connectors.rest import Collection, RestConnector, lifecycle


def feature(p: Payload) -> list[NormalizedEntity]:
    versions = p.objects("versions")
    latest = newest(versions, by_time("created_at"))
    return [
        entity(
            p,
            EntityType.FEATURE,
            p.id("id"),
            attributes={
                "latest_version": latest.scalar("version") if latest else None,
                "version_count": len(versions),
            },
            relationships={Rel.DERIVED_FROM: refs(EntityType.DATASET, p.ids("source_dataset_ids"))},
        )
    ]


class FeatureStoreConnector(RestConnector):
    source = "featurestore"
    events = lifecycle("feature", EntityType.FEATURE, "feature_id")
    collections = (Collection("features", EntityType.FEATURE, feature),)
    #: what a feature is computed from is part of its definition; new versions change it
    timings = {EntityType.FEATURE: timing(fixed=(Rel.DERIVED_FROM,))}
