"""Batched loading: a wide query reads each entity once, not once per path to it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from graphql_org import ALICE, BOB, CAROL, MODEL, RUN, Graph, T, data, entity, ref

from mds.wire.model import Rel

INSTANCES = 100
FEATURES = 5

WIDE = """query($id: ID!) { model(id: $id) { instances(first: 1000) { totalCount nodes {
    name owners { name } pipeline { name owners { name } }
    features { nodes { name owners { name } data { nodes { name owners { name } } } } } } } } }"""


def count_reads(store: Any, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the store's raw per-entity reads (EAVT and VAET prefix reads)."""
    calls: Counter[str] = Counter()
    for name in ("entity_of", "facts_of", "links_to"):
        original = getattr(store, name, None)
        if original is None:
            continue

        def counted(e: int, _name: str = name, _original: Callable[[int], Any] = original) -> Any:
            calls[_name] += 1
            return _original(e)

        monkeypatch.setattr(store, name, counted)
    return calls


async def test_wide_query_reads_each_entity_about_once(
    graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners = [ALICE, BOB, CAROL]
    datasets = [ref(T.DATASET, f"source-{i}") for i in range(2 * FEATURES)]
    for i in range(len(datasets)):
        graph.write(entity(T.DATASET, f"source-{i}"), owners=[owners[i % 3]])
    features = []
    for i in range(FEATURES):
        feature = entity(
            T.FEATURE, f"shared-{i}", rels={Rel.DERIVED_FROM: datasets[2 * i : 2 * i + 2]}
        )
        graph.write(feature, owners=[owners[i % 3]])
        features.append(feature.id)
    for i in range(INSTANCES):
        graph.write(
            entity(
                T.MODEL_INSTANCE,
                f"ranking-model-wide-{i:03}",
                rels={
                    Rel.INSTANCE_OF: [MODEL],
                    Rel.PRODUCED_BY: [RUN],
                    Rel.USES_FEATURE: features,
                },
            ),
            owners=[owners[i % 3]],
        )

    graph.daemon.indexer.flush()  # the daemon's own readers stay out of the count
    assert await graph.daemon.wait_idle(10)
    calls = count_reads(graph.daemon.store, monkeypatch)
    answer = await data(graph.daemon, WIDE, id=MODEL)
    nodes = answer["model"]["instances"]["nodes"]
    assert answer["model"]["instances"]["totalCount"] == INSTANCES + 2  # and v4, v5
    wide = [n for n in nodes if n["name"].startswith("ranking-model-wide")]
    assert len(wide) == INSTANCES
    assert all(n["pipeline"]["name"] == "Weekly ranking trainer" for n in wide)
    assert all(len(n["features"]["nodes"]) == FEATURES for n in wide)

    # instances, the model, the run and its pipeline, features, datasets and owners (and
    # v4, v5 with their features and data): each read once, plus the model's incoming refs
    distinct = INSTANCES + 2 + 1 + 2 + FEATURES + 2 + len(datasets) + 3 + 5
    paths = INSTANCES * (1 + 1 + 2 + FEATURES * (1 + 1 + 2 * 2))  # what per-path reads cost
    reads = sum(calls.values())
    assert reads <= distinct + 10, calls
    assert reads * 10 < paths
