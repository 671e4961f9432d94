"""The Model Registry: models and their instances (contract 1.2, ``registry``)."""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import timing
from mdsd.connectors.payload import Payload, entity, refs
from mdsd.connectors.rest import Collection, RestConnector, lifecycle


def model(p: Payload) -> list[NormalizedEntity]:
    return [
        entity(
            p,
            EntityType.MODEL,
            p.id("id"),
            relationships={
                Rel.CURRENT_INSTANCE: refs(
                    EntityType.MODEL_INSTANCE, [p.opt_id("current_instance_id")]
                )
            },
            mentions=refs(EntityType.MODEL_INSTANCE, p.ids("instance_ids")),
        )
    ]


def instance(p: Payload) -> list[NormalizedEntity]:
    return [
        entity(
            p,
            EntityType.MODEL_INSTANCE,
            p.id("id"),
            attributes={
                "version": p.scalar("version"),
                "status": p.text("status"),
                "deployed_at": p.text("deployed_at"),
            },
            relationships={
                Rel.INSTANCE_OF: refs(EntityType.MODEL, [p.opt_id("model_id")]),
                Rel.PRODUCED_BY: refs(EntityType.PIPELINE_RUN, [p.opt_id("pipeline_run_id")]),
                Rel.USES_FEATURE: refs(EntityType.FEATURE, p.ids("feature_ids")),
            },
        )
    ]


class RegistryConnector(RestConnector):
    source = "registry"
    events = {
        **lifecycle("model", EntityType.MODEL, "model_id"),
        **lifecycle("model_instance", EntityType.MODEL_INSTANCE, "instance_id"),
    }
    collections = (
        Collection("models", EntityType.MODEL, model),
        Collection("instances", EntityType.MODEL_INSTANCE, instance),
    )
    #: an instance is what one run trained of one model on its features, under a version
    #: number; its status, deployment, labels and owners change (contract 4)
    timings = {
        EntityType.MODEL_INSTANCE: timing(
            fixed=(Rel.INSTANCE_OF, Rel.PRODUCED_BY, Rel.USES_FEATURE, "version")
        ),
    }
