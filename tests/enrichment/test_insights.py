"""Similar models, feature suggestions and the metadata-quality report, on a small graph."""

from __future__ import annotations

import time

import pytest
from enrichment_fakes import ET, Graph, aip, entity, instance_entity

from mds.wire.model import Rel
from mdsd.reads import insights
from mdsd.reads.queries import BadQuery, NotFound
from store import FactStore

A, B, C = (aip(ET.MODEL, m) for m in ("alpha", "beta", "gamma"))


def feature(name: str) -> str:
    return aip(ET.FEATURE, name)


@pytest.fixture
def models(graph: Graph) -> Graph:
    """alpha uses f1 f2 f3, beta f1 f2 f4, gamma f5; each through one instance."""
    for name, features in (("alpha", "f1 f2 f3"), ("beta", "f1 f2 f4"), ("gamma", "f5")):
        graph.put(entity(ET.MODEL, name, description=f"{name} model", owners=[]))
        graph.put(instance_entity(f"{name}-v1", model=name, features=features.split()))
    for f in ("f1", "f2", "f3", "f4", "f5", "f6"):
        graph.put(entity(ET.FEATURE, f, {Rel.DERIVED_FROM: [aip(ET.DATASET, "events")]}))
    graph.put(entity(ET.DATASET, "events", description="raw events"))
    graph.put(entity(ET.DATASET, "forgotten", description="nobody reads this"))
    return graph


def test_similar_models_by_shared_features(store: FactStore, models: Graph) -> None:
    answer = insights.similar(store.db(), A, limit=10)
    assert answer["similar"] == [
        {
            "id": B,
            "entity_type": "Model",
            "name": "beta",
            "score": 0.5,
            "shared_features": [feature("f1"), feature("f2")],
        }
    ]
    assert answer["features"] == [feature(f) for f in ("f1", "f2", "f3")]


def test_similar_instances_leave_out_their_own_model(store: FactStore, models: Graph) -> None:
    models.put(instance_entity("alpha-v2", model="alpha", features=["f1", "f2", "f3"]))
    answer = insights.similar(store.db(), aip(ET.MODEL_INSTANCE, "alpha-v1"), limit=10)
    assert [s["id"] for s in answer["similar"]] == [aip(ET.MODEL_INSTANCE, "beta-v1")]


def test_suggestions_are_what_similar_models_use(store: FactStore, models: Graph) -> None:
    answer = insights.suggestions(store.db(), A, limit=5)
    assert answer["suggestions"] == [
        {"feature": {"id": feature("f4"), "name": "f4"}, "score": 1.0, "because": [B]}
    ]


def test_answers_follow_the_view(store: FactStore, models: Graph) -> None:
    before = store.last_tx
    models.put(instance_entity("gamma-v2", model="gamma", features=["f1", "f2", "f3"]))
    assert insights.similar(store.db(), A, 10)["similar"][0]["id"] == C
    assert C not in [s["id"] for s in insights.similar(store.as_of(before), A, 10)["similar"]]


def test_similarity_is_for_models_and_instances(store: FactStore, models: Graph) -> None:
    with pytest.raises(BadQuery, match="is a Feature"):
        insights.similar(store.db(), feature("f1"), 10)
    with pytest.raises(NotFound):
        insights.suggestions(store.db(), aip(ET.MODEL, "nope"), 10)


def quality(store: FactStore, **context: object) -> dict:
    context.setdefault("unit_times", {})
    return insights.quality(store.db(), insights.QualityContext(stale_days=7, **context))  # type: ignore[arg-type]


def ids(items: list[dict]) -> set[str]:
    return {i["id"] for i in items}


def test_quality_finds_missing_owners_and_descriptions(store: FactStore, models: Graph) -> None:
    models.put(entity(ET.PIPELINE, "trainer", owner_emails=["ghost@example.com"]))
    report = quality(store)
    pipeline = aip(ET.PIPELINE, "trainer")
    assert pipeline in ids(report["missing_owners"])
    assert pipeline in ids(report["missing_descriptions"])
    (item,) = [i for i in report["missing_owners"] if i["id"] == pipeline]
    assert item["reason"] == "owner emails not resolved: ghost@example.com"
    assert A not in ids(report["missing_descriptions"])
    assert report["summary"]["missing_owners"] == len(report["missing_owners"])


def test_quality_finds_unused_datasets_features_and_models(store: FactStore, models: Graph) -> None:
    report = quality(store)
    assert ids(report["unused"]) == {
        aip(ET.DATASET, "forgotten"),
        feature("f6"),
        A,
        B,
        C,  # no instance is in production or under test
    }


def test_quality_finds_references_to_deleted_entities(store: FactStore, models: Graph) -> None:
    models.gone(ET.FEATURE, "f5")
    (item,) = quality(store)["dangling_references"]
    assert item["id"] == aip(ET.MODEL_INSTANCE, "gamma-v1")
    assert item["references"] == [{"type": "uses_feature", "target": feature("f5")}]


def test_quality_reports_stale_units_and_unresolved_stubs(store: FactStore, models: Graph) -> None:
    models.put(instance_entity("delta-v1", run="never-seen"))
    run = aip(ET.PIPELINE_RUN, "never-seen")
    fresh = time.time()
    report = quality(
        store,
        unit_times={A: (fresh - 30 * 86_400, None), B: (fresh, None)},
        failing={run: "HTTP 503"},
    )
    stale = {i["id"]: i["reason"] for i in report["stale"]}
    assert stale[A] == "stale"
    assert B not in stale
    assert stale[C] == "never hydrated by this daemon"
    unresolved = {i["id"]: i["reason"] for i in report["unresolved_stubs"]}
    assert unresolved == {run: "hydration failing: HTTP 503"}


def test_quality_ignores_stubs_newer_than_the_last_pass(store: FactStore, models: Graph) -> None:
    started = time.time()
    models.put(instance_entity("delta-v1", run="brand-new"))
    assert quality(store, last_pass_started_at=started)["unresolved_stubs"] == []
    later = quality(store, last_pass_started_at=time.time())["unresolved_stubs"]
    assert [i["reason"] for i in later] == ["not hydrated yet"]
