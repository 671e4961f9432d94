"""The Feast connector on a real Feast repo applied in this process (a file registry):
what each unit says, the namespace map, and the poll that follows changes.

Feast is the ``mds[feast]`` extra (the ``test`` extra installs it); its first import costs
about 5 s, paid once here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag
from mdsd.connectors.base import Gone, Hydrated, SourceUnavailable
from mdsd.connectors.feast.connector import FeastConnector
from mdsd.connectors.feast.mapping import feast_id
from mdsd.connectors.feast.poll import Poll
from mdsd.connectors.feast.settings import FeastPolicy
from tests.feast.repo import PROJECT, FeastRepo

pytest.importorskip("feast")

VIEW = feast_id(EntityType.FEATURE_VIEW, PROJECT, "driver_hourly_stats")
CUSTOMERS = feast_id(EntityType.FEATURE_VIEW, PROJECT, "customer_profile")
ON_DEMAND = feast_id(EntityType.FEATURE_VIEW, PROJECT, "adjusted_rates")
SERVICE = feast_id(EntityType.FEATURE_SERVICE, PROJECT, "driver_activity")
SOURCE = feast_id(EntityType.DATASET, PROJECT, "driver_stats_source")
CUSTOMER_SOURCE = feast_id(EntityType.DATASET, PROJECT, "customer_source")


def feature(view: str, name: str) -> str:
    return feast_id(EntityType.FEATURE, PROJECT, view, name)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeastRepo]:
    applied = FeastRepo(tmp_path_factory.mktemp("feast"), sql=False)
    applied.apply_here()
    yield applied


def connector(repo: FeastRepo, **settings: object) -> FeastConnector:
    return FeastConnector(FeastPolicy(registry=repo.registry, **settings))  # type: ignore[arg-type]


async def hydrated(c: FeastConnector, unit: str) -> list[NormalizedEntity]:
    result = await c.hydrate(unit)
    assert isinstance(result, Hydrated), result
    return result.entities


async def test_the_registry_lists_its_views_services_and_sources(repo: FeastRepo) -> None:
    listed = [u async for u in connector(repo).list_units()]
    assert {u.id for u in listed} == {
        VIEW,
        CUSTOMERS,
        ON_DEMAND,
        SERVICE,
        SOURCE,
        CUSTOMER_SOURCE,
    }
    assert all(u.updated_at for u in listed), "Feast dates every object"


async def test_a_feature_view_with_its_entity_source_features_and_ttl(repo: FeastRepo) -> None:
    view, *features = await hydrated(connector(repo), VIEW)
    assert view.entity_type is EntityType.FEATURE_VIEW and view.name == "driver_hourly_stats"
    assert view.owner_emails == ["ana@example.com"] and view.tags == [Tag("team", "pricing")]
    assert view.attributes["ttl_seconds"] == 86400 and view.attributes["view_type"] == "batch"
    assert view.attributes["entities"] == [
        {
            "name": "driver",
            "join_key": "driver_id",
            "value_type": "INT64",
            "description": "A driver",
        }
    ]
    assert view.relationships[Rel.DERIVED_FROM] == [SOURCE]
    assert view.created_at and view.updated_at and view.created_at <= view.updated_at
    by_name = {f.name: f for f in features}
    assert set(by_name) == {"conv_rate", "acc_rate"}
    rate = by_name["conv_rate"]
    assert rate.id == feature("driver_hourly_stats", "conv_rate") and rate.parent == VIEW
    assert rate.attributes["value_type"] == "FLOAT" and rate.description == "Conversion rate"
    assert rate.relationships[Rel.DERIVED_FROM] == [VIEW]
    assert rate.began_at == view.updated_at, "a feature is known from its view's last update"


async def test_a_feature_unit_is_its_view(repo: FeastRepo) -> None:
    c = connector(repo)
    assert c.unit_of(feature("driver_hourly_stats", "conv_rate")) == VIEW
    assert (await hydrated(c, feature("driver_hourly_stats", "acc_rate")))[0].id == VIEW


async def test_an_on_demand_view_reads_its_views_and_requests(repo: FeastRepo) -> None:
    view, plus = await hydrated(connector(repo), ON_DEMAND)
    assert view.attributes["view_type"] == "on_demand"
    assert view.attributes["request_sources"] == ["trip_request"]
    assert view.relationships[Rel.DERIVED_FROM] == [VIEW]
    assert plus.id == feature("adjusted_rates", "conv_rate_plus_val")
    assert plus.attributes["value_type"] == "DOUBLE"


async def test_a_service_uses_the_features_it_serves(repo: FeastRepo) -> None:
    (service,) = await hydrated(connector(repo), SERVICE)
    assert service.entity_type is EntityType.FEATURE_SERVICE
    assert service.tags == [Tag("stage", "production")]
    assert service.description == "What the ranking model is served"
    assert sorted(service.relationships[Rel.USES_FEATURE]) == sorted(
        [
            feature("driver_hourly_stats", "conv_rate"),
            feature("adjusted_rates", "conv_rate_plus_val"),
            feature("customer_profile", "lifetime_value"),
        ]
    )


async def test_a_data_source_is_a_dataset_unless_its_namespace_is_mapped(
    repo: FeastRepo,
) -> None:
    (source,) = await hydrated(connector(repo), SOURCE)
    assert source.entity_type is EntityType.DATASET
    assert source.attributes["namespace"] == "file"
    assert source.attributes["table"] == str(repo.parquet)
    assert source.attributes["feast_type"] == "BATCH_FILE"

    mapped = connector(repo, namespaces={"file": "datasets"})
    listed = {u.id async for u in mapped.list_units()}
    assert SOURCE not in listed and CUSTOMER_SOURCE not in listed, "its own source describes it"
    view = (await hydrated(mapped, VIEW))[0]
    assert view.relationships[Rel.DERIVED_FROM] == [f"aip://dataset/datasets/{repo.parquet}"]


async def test_an_unknown_unit_is_gone_and_a_missing_registry_unavailable(
    repo: FeastRepo, tmp_path: Path
) -> None:
    assert isinstance(await connector(repo).hydrate(CUSTOMERS + "-renamed"), Gone)
    missing = FeastConnector(FeastPolicy(registry=f"sqlite:///{tmp_path}/no/such/dir/r.db"))
    with pytest.raises(SourceUnavailable, match="feast registry"):
        await missing.hydrate(VIEW)


async def test_the_poll_announces_what_changed_and_what_vanished(tmp_path: Path) -> None:
    repo = FeastRepo(tmp_path / "repo", sql=False)
    repo.apply_here()
    announced: list[dict[str, str]] = []

    async def submit(body: bytes, origin: str) -> None:
        assert origin == "feast-poll"
        announced.extend(json.loads(line) for line in body.splitlines())

    c = connector(repo)
    poll = Poll(c, submit, tmp_path / "feast-poll.json")
    assert await poll.poll() == 6, "the first poll imports the registry"
    assert {
        "event_type": "feast_feature_view_changed",
        "project": PROJECT,
        "name": "adjusted_rates",
    } in announced
    assert await poll.poll() == 0

    announced.clear()
    repo.set(trips=True, customers=False, tags={"team": "growth"})
    repo.apply_here()
    await poll.poll()
    names = {(e["event_type"], e["name"]) for e in announced}
    assert {
        ("feast_feature_view_changed", "driver_hourly_stats"),
        ("feast_feature_view_changed", "customer_profile"),
        ("feast_feature_service_changed", "driver_activity"),
    } <= names
    assert ("feast_data_source_changed", "driver_stats_source") not in names

    assert isinstance(await c.hydrate(CUSTOMERS), Gone)
    view, *features = await hydrated(c, VIEW)
    assert view.tags == [Tag("team", "growth")]
    assert feature("driver_hourly_stats", "avg_daily_trips") in {f.id for f in features}
    (service,) = await hydrated(c, SERVICE)
    assert (
        feature("customer_profile", "lifetime_value") not in service.relationships[Rel.USES_FEATURE]
    )

    restarted = Poll(c, submit, tmp_path / "feast-poll.json")
    assert await restarted.poll() == 0, "the snapshot outlives a restart"


async def test_a_stream_view_reads_its_stream_and_batch_sources(tmp_path: Path) -> None:
    from feast import Entity, FeatureStore, Field, FileSource, KafkaSource
    from feast.data_format import JsonFormat
    from feast.stream_feature_view import StreamFeatureView
    from feast.types import Float32

    repo = FeastRepo(tmp_path / "repo", sql=False)
    history = FileSource(
        name="trips_history", path=str(repo.parquet), timestamp_field="event_timestamp"
    )
    trips = KafkaSource(
        name="trips_stream",
        timestamp_field="event_timestamp",
        bootstrap_servers="kafka:9092",
        topic="trips",
        message_format=JsonFormat(schema_json="driver_id integer, conv_rate float"),
        batch_source=history,
    )
    driver = Entity(name="driver", join_keys=["driver_id"])
    live = StreamFeatureView(
        name="driver_live",
        source=trips,
        entities=[driver],
        schema=[Field(name="conv_rate", dtype=Float32)],
        timestamp_field="event_timestamp",
    )
    FeatureStore(repo_path=str(repo.root)).apply([driver, history, trips, live])

    c = connector(repo)
    view, *features = await hydrated(c, feast_id(EntityType.FEATURE_VIEW, PROJECT, "driver_live"))
    assert view.attributes["view_type"] == "stream"
    stream = feast_id(EntityType.DATASET, PROJECT, "trips_stream")
    assert set(view.relationships[Rel.DERIVED_FROM]) == {
        stream,
        feast_id(EntityType.DATASET, PROJECT, "trips_history"),
    }
    assert feature("driver_live", "conv_rate") in {f.id for f in features}
    (topic,) = await hydrated(c, stream)
    assert (topic.attributes["namespace"], topic.attributes["table"]) == (
        "kafka://kafka:9092",
        "trips",
    )
