"""Which source owns each entity type, and how the ids of parts are composed (contract 1.3).

Payloads reference entities of other sources by native id (an instance names its pipeline
run); every connector turns such a reference into the same aip id through ``ref``.
"""

from __future__ import annotations

from collections.abc import Mapping

from mds.wire.model import EntityType, aip_id

#: entity type -> the key of the source that owns it: the reference platform's (contract 1,
#: first table), and Feast's for the kinds only Feast has
HOME: dict[EntityType, str] = {
    EntityType.MODEL: "registry",
    EntityType.MODEL_INSTANCE: "registry",
    EntityType.PIPELINE: "orchestrator",
    EntityType.PIPELINE_RUN: "orchestrator",
    EntityType.FEATURE: "featurestore",
    EntityType.FEATURE_VIEW: "feast",
    EntityType.FEATURE_SERVICE: "feast",
    EntityType.AB_TEST: "experiments",
    EntityType.AB_TEST_CELL: "experiments",
    EntityType.DATASET: "datasets",
    EntityType.DATASET_VERSION: "datasets",
    EntityType.USER: "identity",
    EntityType.TEAM: "identity",
}


def ref(entity_type: EntityType, native_id: str) -> str:
    """The aip id of an entity known by its native id, whichever source mentions it."""
    return aip_id(entity_type, HOME[entity_type], native_id)


def email_user(email: str) -> str:
    """The user an owner email names when no identity source resolves it: the whole
    address (case aside) is the identity, so ``alice@example.com`` and ``alice@other.org``
    stay two people, each shown by their address."""
    return ref(EntityType.USER, email.strip().lower())


def mapped_dataset(namespace: str, name: str, namespaces: Mapping[str, str]) -> str | None:
    """The Dataset a table of ``namespace`` is when a namespace map (``[openlineage.namespaces]``,
    ``[sources.feast] namespaces``) names the source that owns that namespace's tables:
    that source's entity, named by its plain name, so the same table is one entity however
    it is reported. None for a namespace the map does not name."""
    source = namespaces.get(namespace)
    return aip_id(EntityType.DATASET, source, name) if source is not None else None


def dataset_version_native(dataset_id: str, version: str) -> str:
    return f"{dataset_id}@{version}"


def dataset_of_version(native_id: str) -> str:
    """``playback-events@2025-01-01`` -> ``playback-events`` (versions may contain ``@``)."""
    return native_id.partition("@")[0]


def cell_native(test_id: str, cell_number: str) -> str:
    return f"{test_id}/{cell_number}"


def ab_test_of_cell(native_id: str) -> str:
    """``12345/2`` -> ``12345`` (cell numbers never contain ``/``)."""
    return native_id.rpartition("/")[0]
