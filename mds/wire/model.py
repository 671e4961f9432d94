"""The unified entity model: global ``aip://`` ids, entity kinds and relationship types.

Everything source-specific ends at the connectors; everything after them (writer, search,
enrichment, queries) speaks only the vocabulary defined here (contract sections 1.3, 1.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class EntityType(StrEnum):
    MODEL = "Model"
    MODEL_INSTANCE = "ModelInstance"
    PIPELINE = "Pipeline"
    PIPELINE_RUN = "PipelineRun"
    FEATURE = "Feature"
    FEATURE_VIEW = "FeatureView"
    FEATURE_SERVICE = "FeatureService"
    DATASET = "Dataset"
    DATASET_VERSION = "DatasetVersion"
    AB_TEST = "AbTest"
    AB_TEST_CELL = "AbTestCell"
    USER = "User"
    TEAM = "Team"


#: entity_type -> the ``kind`` segment of its aip id
KIND_OF: dict[EntityType, str] = {
    EntityType.MODEL: "model",
    EntityType.MODEL_INSTANCE: "model-instance",
    EntityType.PIPELINE: "pipeline",
    EntityType.PIPELINE_RUN: "pipeline-run",
    EntityType.FEATURE: "feature",
    EntityType.FEATURE_VIEW: "feature-view",
    EntityType.FEATURE_SERVICE: "feature-service",
    EntityType.DATASET: "dataset",
    EntityType.DATASET_VERSION: "dataset-version",
    EntityType.AB_TEST: "ab-test",
    EntityType.AB_TEST_CELL: "ab-test-cell",
    EntityType.USER: "user",
    EntityType.TEAM: "team",
}
TYPE_OF_KIND: dict[str, EntityType] = {kind: et for et, kind in KIND_OF.items()}

AIP_PREFIX = "aip://"


def aip_id(entity_type: EntityType, source: str, native_id: str) -> str:
    """The global id of an entity: ``aip://{kind}/{source}/{native-id}``."""
    return f"{AIP_PREFIX}{KIND_OF[entity_type]}/{source}/{native_id}"


@dataclass(frozen=True, slots=True)
class ParsedId:
    entity_type: EntityType
    source: str
    native_id: str


def parse_aip_id(value: str) -> ParsedId:
    """Split an aip id into its parts; ``ValueError`` with a readable reason if malformed."""
    if not value.startswith(AIP_PREFIX):
        raise ValueError(f"not an aip id (must start with {AIP_PREFIX!r}): {value!r}")
    parts = value[len(AIP_PREFIX) :].split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"aip id must look like aip://KIND/SOURCE/NATIVE-ID: {value!r}")
    kind, source, native = parts
    if kind not in TYPE_OF_KIND:
        raise ValueError(f"unknown kind {kind!r} in {value!r}; known: {sorted(TYPE_OF_KIND)}")
    return ParsedId(TYPE_OF_KIND[kind], source, native)


class Rel(StrEnum):
    """Relationship types. Each edge points from the entity whose payload declares it."""

    INSTANCE_OF = "instance_of"  # ModelInstance -> Model
    CURRENT_INSTANCE = "current_instance"  # Model -> ModelInstance
    PRODUCED_BY = "produced_by"  # ModelInstance -> PipelineRun
    #: ModelInstance -> Feature | FeatureService, FeatureService -> Feature
    USES_FEATURE = "uses_feature"
    RUN_OF = "run_of"  # PipelineRun -> Pipeline
    READS = "reads"  # PipelineRun -> DatasetVersion
    WRITES = "writes"  # PipelineRun -> DatasetVersion
    RAN_FOR = "ran_for"  # PipelineRun -> AbTestCell
    OUTPUTS = "outputs"  # Pipeline -> Dataset
    #: Feature -> Dataset | FeatureView, FeatureView -> Dataset | FeatureView (an on-demand
    #: view's inputs), Dataset -> Dataset (upstream)
    DERIVED_FROM = "derived_from"
    VERSION_OF = "version_of"  # DatasetVersion -> Dataset
    CELL_OF = "cell_of"  # AbTestCell -> AbTest
    OWNED_BY = "owned_by"  # any -> User
    MEMBER_OF = "member_of"  # User -> Team
    PARENT_RUN = "parent_run"  # PipelineRun -> PipelineRun (an OpenLineage run's parent)
    TESTED_IN = "tested_in"  # ModelInstance -> AbTest / AbTestCell (inferred)


Direction = Literal["upstream", "downstream"]
Orientation = Literal["out", "in"]

#: How lineage walks the graph (contract 1.4). Each entry is (relationship, orientation to
#: follow when walking *upstream*); downstream follows the opposite orientation. "out" means
#: the edge's source depends on its target (a run reads a dataset version), "in" means the
#: target depends on the source (a model is fed by its instances).
LINEAGE_STEPS: tuple[tuple[Rel, Orientation], ...] = (
    (Rel.PRODUCED_BY, "out"),
    (Rel.USES_FEATURE, "out"),
    (Rel.RUN_OF, "out"),
    (Rel.READS, "out"),
    (Rel.VERSION_OF, "out"),
    (Rel.DERIVED_FROM, "out"),
    (Rel.INSTANCE_OF, "in"),
    (Rel.WRITES, "in"),
    (Rel.OUTPUTS, "in"),
    (Rel.RAN_FOR, "in"),
    (Rel.CELL_OF, "in"),
    (Rel.TESTED_IN, "in"),
)

#: Relationships that are context, not lineage.
CONTEXT_RELS: frozenset[Rel] = frozenset({Rel.OWNED_BY, Rel.MEMBER_OF, Rel.CURRENT_INSTANCE})


def flip(orientation: Orientation) -> Orientation:
    return "in" if orientation == "out" else "out"


def lineage_steps(direction: Direction) -> list[tuple[str, Orientation]]:
    """The (relationship, orientation) pairs a walk in ``direction`` follows."""
    if direction == "upstream":
        return [(str(rel), o) for rel, o in LINEAGE_STEPS]
    return [(str(rel), flip(o)) for rel, o in LINEAGE_STEPS]


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str
    value: str


@dataclass(slots=True)
class NormalizedEntity:
    """One entity as a source currently describes it, in the unified model.

    A connector returns these from a hydrated payload. ``relationships`` are the entity's
    outgoing declared edges (type -> target aip ids); the writer replaces the previous set
    with this one. ``mentions`` are ids the payload references without an edge of its own
    (a team's member ids, a model's instance ids): they become stubs if unknown.
    ``owner_emails`` are resolved to user ids through the identity source before writing.
    """

    id: str
    entity_type: EntityType
    source: str
    native_id: str
    name: str
    description: str | None = None
    owner_emails: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    #: scalars, or JSON a source keeps whole (an OpenLineage facet, a dataset's fields)
    attributes: dict[str, Any] = field(default_factory=dict)
    relationships: dict[Rel, list[str]] = field(default_factory=dict)
    mentions: list[str] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    #: where the source has no ``created_at``/``updated_at`` of its own, the times that date
    #: the entity instead (a run is created when it starts and last changed when it ends):
    #: for valid time only, never shown as the source's own timestamps
    began_at: str | None = None
    changed_at: str | None = None
    #: the hydration unit this entity is part of (a cell's test, a version's dataset); the
    #: writer deletes parts that vanish from their parent's payload, and hydrating a part
    #: means hydrating its parent.
    parent: str | None = None
    #: the fields its source fixes when it creates the entity (contract 4: an instance's
    #: run, model and features, a version's dataset), as its connector declares them for
    #: the entity's kind: they hold from ``created_at``. Every other field changes, and is
    #: known from ``updated_at`` (or from when mds saw it). Names are those of ``FIELDS``,
    #: relationship types and attribute names.
    fixed: frozenset[str] = frozenset()
    #: changing fields whose changes the source's ``updated_at`` does not date (MLflow moves
    #: an alias without bumping a timestamp; a run's end does not date its cell
    #: assignments): they are known only from when mds saw them, never guessed earlier.
    undated: frozenset[str] = frozenset()
    #: attributes whose past values the source keeps, each with its own moment (a run's
    #: metric history): name -> [(RFC 3339 time, value)], oldest first. The writer states
    #: each value from its moment, so ``as_of`` and ``history`` show the series and the
    #: latest is the current value; points it already holds are not written again.
    series: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)


#: The fields every entity has, by the names ``NormalizedEntity.fixed`` and ``undated`` use
#: for them (besides relationship types and attribute names). The identity (type, source,
#: native id, name, created_at) is fixed for every kind; the rest may be declared.
IDENTITY: frozenset[str] = frozenset({"type", "source", "native_id", "name", "created_at"})
FIELDS: frozenset[str] = IDENTITY | {"description", "tags", "owners", "mentions", "parent"}
