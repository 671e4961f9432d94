"""The Model Registry: models and their instances (contract 1.2, ``registry``)."""

from __future__ import annotations

from mds.wire.model import AIP_PREFIX, EntityType, NormalizedEntity, Rel, parse_aip_id
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


#: what an instance's ``feature_ids`` may name by full aip id instead of a native feature
#: id: a feature or a feature service of another feature store (Feast's)
FEATURE_KINDS = frozenset({EntityType.FEATURE, EntityType.FEATURE_SERVICE})


def feature_refs(natives: list[str]) -> list[str]:
    """``feature_ids`` as ids: a native id is the Feature Store's feature; an aip id of a
    feature or feature service (``aip://feature-service/feast/{project}/{name}``) is kept,
    which is how an instance names the features it was trained on in Feast."""
    kept = [n for n in natives if n.startswith(AIP_PREFIX) and _is_feature(n)]
    return kept + refs(EntityType.FEATURE, [n for n in natives if n not in kept])


def _is_feature(xid: str) -> bool:
    try:
        return parse_aip_id(xid).entity_type in FEATURE_KINDS
    except ValueError:
        return False


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
                Rel.USES_FEATURE: feature_refs(p.ids("feature_ids")),
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
