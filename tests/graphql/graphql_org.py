"""A small but realistic organisation, written through the daemon's real write path.

Entities go through ``Writer`` as connectors' ``Hydrated`` units (so stubs, parts and
replaced relationships behave as in production); the inferred ``tested_in`` edges are
written the way enrichment states them: the refs from the instance to the test and to
the cell, plus a reified edge entity carrying the rule and the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag, aip_id
from mdsd.api.graphql import execute
from mdsd.connectors.base import Hydrated
from mdsd.connectors.ids import HOME
from mdsd.daemon import Daemon
from mdsd.enrichment.inference import new_edge_ops
from mdsd.reads.cost import ReadLimits

T = EntityType
#: entity type -> the source that owns it
SOURCE = HOME


def ref(entity_type: EntityType, native: str) -> str:
    return aip_id(entity_type, SOURCE[entity_type], native)


MODEL = ref(T.MODEL, "ranking-model")
V4 = ref(T.MODEL_INSTANCE, "ranking-model-v4-20241201")
V5 = ref(T.MODEL_INSTANCE, "ranking-model-v5-20250101")
V6 = ref(T.MODEL_INSTANCE, "ranking-model-v6-20250201")
PIPELINE = ref(T.PIPELINE, "weekly-ranking-trainer")
RUN = ref(T.PIPELINE_RUN, "train-weekly-ranking-20250101")
RUN6 = ref(T.PIPELINE_RUN, "train-weekly-ranking-20250201")
WATCH_TIME = ref(T.FEATURE, "watch-time-7d")
GENRE = ref(T.FEATURE, "genre-affinity")
PLAYBACK = ref(T.DATASET, "playback-events")
SESSIONS = ref(T.DATASET, "watch-sessions")
CATALOG = ref(T.DATASET, "catalog")
PLAYBACK_V1 = ref(T.DATASET_VERSION, "playback-events@2025-01-01")
TEST = ref(T.AB_TEST, "12345")
CONTROL = ref(T.AB_TEST_CELL, "12345/1")
TREATMENT = ref(T.AB_TEST_CELL, "12345/2")
ALICE = ref(T.USER, "alice")
BOB = ref(T.USER, "bob")
CAROL = ref(T.USER, "carol")
PERSONALIZATION = ref(T.TEAM, "personalization")


def entity(
    entity_type: EntityType,
    native: str,
    name: str | None = None,
    *,
    rels: dict[Rel, list[str]] | None = None,
    attrs: dict[str, Any] | None = None,
    parent: str | None = None,
    **fields: Any,
) -> NormalizedEntity:
    return NormalizedEntity(
        id=ref(entity_type, native),
        entity_type=entity_type,
        source=SOURCE[entity_type],
        native_id=native,
        name=name or native,
        attributes=attrs or {},
        relationships=rels or {},
        parent=parent,
        **fields,
    )


@dataclass
class Graph:
    """Writes units as hydration would and remembers the transaction of each milestone."""

    daemon: Daemon

    def write(self, *entities: NormalizedEntity, owners: list[str] | None = None) -> int:
        """One hydrated unit (its primary first, then its parts); ``owners`` of the primary."""
        unit = Hydrated(list(entities))
        outcome = self.daemon.writer.write(unit, {entities[0].id: owners or []}, {"test": True})
        if outcome.report is not None:
            self.daemon.on_commit(outcome.report)
        return self.daemon.store.last_tx

    def tested_in(self, instance: str, cell: str, test: str, run: str) -> int:
        """The inferred edges instance -> cell and instance -> test, as enrichment states them."""
        path = [instance, run, cell, test]
        ops = [
            op
            for target in (cell, test)
            for op in new_edge_ops(
                Rel.TESTED_IN, instance, target, "produced_by/ran_for/cell_of", path
            )
        ]
        self.daemon.commit(ops, {"cause": "enrichment"})
        return self.daemon.store.last_tx

    @property
    def tx(self) -> int:
        return self.daemon.store.last_tx


def build_org(graph: Graph) -> None:
    w = graph.write
    w(entity(T.TEAM, "personalization", "Personalization"))
    w(
        entity(T.USER, "alice", "Alice", rels={Rel.MEMBER_OF: [PERSONALIZATION]}),
        owners=[],
    )
    w(entity(T.USER, "bob", "Bob", rels={Rel.MEMBER_OF: [PERSONALIZATION]}))
    w(entity(T.USER, "carol", "Carol"))
    w(entity(T.DATASET, "catalog", "catalog"))
    w(
        entity(T.DATASET, "playback-events", "playback-events", rels={Rel.DERIVED_FROM: [CATALOG]}),
        entity(
            T.DATASET_VERSION,
            "playback-events@2025-01-01",
            rels={Rel.VERSION_OF: [PLAYBACK]},
            attrs={"version": "2025-01-01", "row_count": 1200},
            parent=PLAYBACK,
        ),
        owners=[BOB],
    )
    w(entity(T.DATASET, "watch-sessions", "watch-sessions", rels={Rel.DERIVED_FROM: [PLAYBACK]}))
    w(
        entity(T.FEATURE, "watch-time-7d", "watch_time_7d", rels={Rel.DERIVED_FROM: [SESSIONS]}),
        owners=[ALICE],
    )
    w(
        entity(
            T.FEATURE,
            "genre-affinity",
            "genre_affinity",
            rels={Rel.DERIVED_FROM: [PLAYBACK, CATALOG]},
        )
    )
    w(
        entity(
            T.AB_TEST,
            "12345",
            "Ranking v5 vs v4",
            attrs={"status": "ACTIVE", "cell_count": 2},
        ),
        entity(
            T.AB_TEST_CELL,
            "12345/1",
            "control",
            rels={Rel.CELL_OF: [TEST]},
            attrs={"cell_number": 1},
            parent=TEST,
        ),
        entity(
            T.AB_TEST_CELL,
            "12345/2",
            "treatment",
            rels={Rel.CELL_OF: [TEST]},
            attrs={"cell_number": 2},
            parent=TEST,
        ),
    )
    w(
        entity(
            T.PIPELINE,
            "weekly-ranking-trainer",
            "Weekly ranking trainer",
            attrs={"schedule": "0 3 * * 1"},
            rels={Rel.OUTPUTS: [SESSIONS]},
        ),
        owners=[BOB],
    )
    w(
        entity(
            T.PIPELINE_RUN,
            "train-weekly-ranking-20250101",
            rels={
                Rel.RUN_OF: [PIPELINE],
                Rel.READS: [PLAYBACK_V1],
                Rel.RAN_FOR: [TREATMENT],
            },
            attrs={"status": "succeeded"},
        )
    )
    w(
        entity(
            T.MODEL_INSTANCE,
            "ranking-model-v4-20241201",
            rels={Rel.INSTANCE_OF: [MODEL], Rel.USES_FEATURE: [WATCH_TIME]},
            attrs={"version": "4", "status": "retired"},
        )
    )
    w(
        entity(
            T.MODEL_INSTANCE,
            "ranking-model-v5-20250101",
            rels={
                Rel.INSTANCE_OF: [MODEL],
                Rel.PRODUCED_BY: [RUN],
                Rel.USES_FEATURE: [WATCH_TIME, GENRE],
            },
            attrs={"version": "5", "status": "production"},
        ),
        owners=[ALICE],
    )
    w(
        entity(
            T.MODEL,
            "ranking-model",
            "Ranking model",
            description="Ranks the home page rows",
            tags=[Tag("domain", "home")],
            rels={Rel.CURRENT_INSTANCE: [V5]},
            mentions=[V4, V5],
            created_at="2024-06-01T00:00:00Z",
            updated_at="2025-01-01T00:00:00Z",
        ),
        owners=[ALICE],
    )
    graph.tested_in(V5, TREATMENT, TEST, RUN)


async def run(
    daemon: Daemon,
    query: str,
    as_of: str | None = None,
    limits: ReadLimits | None = None,
    **variables: Any,
) -> Any:
    """The full answer ``{"data", "errors"?, "extensions"}``."""
    body = {"query": query, "variables": variables}
    return await execute(body, daemon.store, daemon.services, as_of, limits)


async def data(daemon: Daemon, query: str, as_of: str | None = None, **variables: Any) -> Any:
    """``data`` of an answer that must have no errors."""
    answer = await run(daemon, query, as_of, **variables)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]
