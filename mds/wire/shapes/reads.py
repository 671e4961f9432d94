"""The answers of the graph reads (search, entity, walks, history, insights) as shapes."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from mds.wire.shapes.base import Shape

# -- pieces shared by many answers -------------------------------------------------------------


class AsOf(Shape):
    """The view an answer was read from: its system basis (the last transaction read and
    that transaction's instant) and its valid time (``None``: the latest)."""

    tx: int
    at: str | None
    valid_time: str | None = None


class Ref(Shape):
    """An entity named inside another answer (an owner, a cell, a model)."""

    id: str
    name: str | None
    entity_type: str | None = None
    status: str | None = None


class Tag(Shape):
    tag: str
    value: str | None


class Edge(Shape):
    """A relationship walked: ``source`` points at ``target``."""

    source: str
    target: str
    type: str
    inferred: bool = False


class Node(Shape):
    """An entity reached by a walk, ``depth`` hops from where it started."""

    id: str
    entity_type: str | None
    name: str | None
    depth: int
    status: str | None = None


# -- reading the graph -------------------------------------------------------------------------


class SearchHit(Shape):
    id: str
    entity_type: str
    name: str | None
    score: float
    description: str | None
    owners: list[Ref]
    tags: list[Tag]
    highlights: dict[str, str]


class Search(Shape):
    """``GET /v1/search`` and ``GET /v1/owners/search``: best first."""

    results: list[SearchHit]
    as_of: AsOf | None = None


class Provenance(Shape):
    """Why an inferred relationship holds: the rule and the path of ids it followed."""

    rule: str | None
    path: list[str] | None


class Relationship(Shape):
    """One edge of an entity; ``target`` is always the entity at the other end."""

    type: str
    direction: Literal["out", "in"]
    target: str
    inferred: bool
    target_name: str | None
    target_type: str | None
    target_status: str | None = None
    provenance: Provenance | None = None


class Hydration(Shape):
    """Why an entity is still a stub: its source's reads keep failing."""

    failures: int
    last_error: str | None
    next_attempt_at: str | None


class Entity(Shape):
    """``GET /v1/entity``: the entity page."""

    id: str
    entity_type: str
    name: str | None
    description: str | None
    owners: list[str]
    tags: list[Tag]
    status: Literal["resolved", "stub", "deleted"]
    last_enriched_at: str | None
    relationships: list[Relationship]
    owners_resolved: list[Ref]
    created_at: str | None
    updated_at: str | None
    attributes: dict[str, Any]
    stale: bool
    hydration: Hydration | None = None
    source: str | None = None
    native_id: str | None = None
    owner_emails: list[str] = []
    last_hydrated_at: str | None = None
    as_of: AsOf | None = None
    #: where it is seen in its source's own UI (``ui_url``, or a source's built-in link)
    source_url: str | None = None


class Neighbor(Shape):
    id: str
    entity_type: str | None
    name: str | None
    type: str
    direction: Literal["out", "in"]
    inferred: bool = False


class Neighbors(Shape):
    """``GET /v1/neighbors``: the entities one edge away."""

    id: str
    neighbors: list[Neighbor]
    as_of: AsOf | None = None


class Lineage(Shape):
    """``GET /v1/lineage``: the data-flow closure and the edges walked."""

    root: str
    direction: Literal["upstream", "downstream"]
    nodes: list[Node]
    edges: list[Edge]
    depth: int | None = None
    truncated: bool = False
    as_of: AsOf | None = None


class Member(Shape):
    """An entity of a group: how far from the root it is, its lifecycle stage and its
    owners' names."""

    id: str
    name: str | None
    depth: int
    entity_type: str | None = None
    status: str | None = None
    stage: str | None = None
    owners: list[str] | None = None


class Group(Shape):
    entity_type: str
    count: int
    entities: list[Member]
    #: how many of them are in each lifecycle stage
    stages: dict[str, int] | None = None


class Dependencies(Shape):
    """``GET /v1/dependencies``: the upstream closure grouped by type."""

    root: str
    groups: list[Group]
    total: int | None = None
    as_of: AsOf | None = None


class Notify(Shape):
    owners: list[Ref]
    teams: list[Ref]
    #: owners only known as stubs: no identity source said who they are
    unresolved: list[Ref] = []


class Impact(Shape):
    """``GET /v1/impact``: the downstream closure by type, and whom to tell."""

    root: str
    total: int
    groups: list[Group]
    notify: Notify
    as_of: AsOf | None = None


class TestUse(Shape):
    """An A/B test a model runs in: its cells, and the instances that put it there."""

    id: str
    name: str | None
    status: str | None
    cells: list[Ref]
    via: list[str]
    record_status: str | None = None


class InstanceUse(Shape):
    """A model instance an A/B test runs, and in which cells."""

    id: str
    name: str | None
    model: Ref | None
    cells: list[Ref]


class Usage(Shape):
    """``GET /v1/usage``: a model's or instance's ``ab_tests``, or an A/B test's (or a
    cell's) ``instances`` and ``models``."""

    id: str
    entity_type: str | None = None
    ab_tests: list[TestUse] | None = None
    instances: list[InstanceUse] | None = None
    models: list[Ref] | None = None
    as_of: AsOf | None = None

    def __post_init__(self) -> None:
        if self.ab_tests is None and (self.instances is None or self.models is None):
            raise ValueError("usage carries `ab_tests`, or `instances` and `models`")


class PathNode(Shape):
    id: str
    entity_type: str | None
    name: str | None
    status: str | None = None


class Path(Shape):
    """``GET /v1/path``: a shortest chain of relationships between two entities."""

    from_: str = msgspec.field(name="from")
    to: str
    path: list[PathNode]
    edges: list[Edge]
    via_people: bool = False
    as_of: AsOf | None = None


class Change(Shape):
    """One fact of a transaction: asserted or retracted, from its valid time ``valid``."""

    attribute: str
    op: Literal["assert", "retract"]
    value: Any
    target_name: str | None = None
    valid: str | None = None


class EntityTx(Shape):
    tx: int
    at: str
    cause: Any
    changes: list[Change]


class History(Shape):
    """``GET /v1/history?id=``: the transactions that touched one entity."""

    id: str
    transactions: list[EntityTx]
    as_of: AsOf | None = None


class GraphTx(Shape):
    tx: int
    at: str
    cause: Any
    entities: list[str]
    datoms: int
    #: how a person reads each entity: its name, or what an inferred edge joins
    names: dict[str, str] | None = None
    #: the span of valid times the transaction's facts hold from
    earliest_valid: str | None = None
    latest_valid: str | None = None


class GraphHistory(Shape):
    """``GET /v1/history`` without an id: the graph's latest transactions, newest first."""

    transactions: list[GraphTx]
    as_of: AsOf | None = None


class Similar(Shape):
    id: str
    name: str | None
    score: float
    shared_features: list[str]
    entity_type: str | None = None


class SimilarModels(Shape):
    """``GET /v1/similar``: models (or instances) alike by the features they train on."""

    id: str
    similar: list[Similar]
    entity_type: str | None = None
    features: list[str] = []
    as_of: AsOf | None = None


class Suggestion(Shape):
    feature: Ref
    score: float
    because: list[str]


class Suggestions(Shape):
    """``GET /v1/suggestions``: features a model's nearest neighbours use and it does not."""

    id: str
    suggestions: list[Suggestion]
    entity_type: str | None = None
    as_of: AsOf | None = None


class Finding(Shape):
    """An entity a quality check found wanting, and why."""

    id: str
    entity_type: str | None
    name: str | None
    reason: str | None = None


class Quality(Shape):
    """``GET /v1/quality``: where the graph's metadata is incomplete, stale or inconsistent."""

    summary: dict[str, Any]
    missing_owners: list[Finding]
    missing_descriptions: list[Finding]
    stale: list[Finding]
    unresolved_stubs: list[Finding]
    dangling_references: list[Finding]
    unused: list[Finding]
    truncated: list[str] = []
    as_of: AsOf | None = None


class Notice(Shape):
    """One ``event: tx`` of ``GET /v1/changes``: a transaction committed; re-read these."""

    tx: int
    at: str
    entities: list[str]
    cause: Any = None


class GraphQLError(Shape):
    message: str
    extensions: dict[str, Any] | None = None


class GraphQL(Shape):
    """``POST /v1/graphql``: a GraphQL result."""

    data: Any
    errors: list[GraphQLError] = []
    extensions: dict[str, Any] | None = None
