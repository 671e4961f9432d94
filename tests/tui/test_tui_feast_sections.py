"""The Feast sections of entity pages: a feature view's entity, source, features and TTL;
a feature's views, services and the models using it."""

from __future__ import annotations

from typing import Any

from tui.sections import feature, feature_view

VIEW = "aip://feature-view/feast/rides/driver_hourly_stats"
RATE = "aip://feature/feast/rides/driver_hourly_stats/conv_rate"
SERVICE = "aip://feature-service/feast/rides/driver_activity"


def edge(kind: str, direction: str, target: str, name: str, target_type: str) -> dict[str, Any]:
    return {
        "type": kind,
        "direction": direction,
        "target": target,
        "inferred": False,
        "target_name": name,
        "target_type": target_type,
    }


class Lineage:
    """What the feature section asks of the daemon: its downstream, at a depth."""

    def __init__(self) -> None:
        self.depths: list[int] = []

    async def lineage(self, xid: str, *, direction: str, depth: int, **_: Any) -> dict[str, Any]:
        self.depths.append(depth)
        return {
            "root": xid,
            "nodes": [
                {"id": "aip://model/registry/ranker", "entity_type": "Model", "name": "ranker"},
                {"id": "aip://model-instance/registry/r1", "entity_type": "ModelInstance"},
            ],
            "edges": [],
        }


async def test_a_feature_view_page_shows_entity_source_features_and_ttl() -> None:
    entity = {
        "id": VIEW,
        "attributes": {
            "view_type": "batch",
            "ttl_seconds": 86400,
            "entities": [{"name": "driver", "join_key": "driver_id"}],
        },
        "relationships": [
            edge("derived_from", "out", "aip://dataset/feast/rides/s", "driver_stats", "Dataset"),
            edge("derived_from", "in", RATE, "conv_rate", "Feature"),
            edge("derived_from", "in", "aip://feature-view/feast/rides/o", "odfv", "FeatureView"),
        ],
    }
    section = await feature_view(Lineage(), entity, {})  # type: ignore[arg-type]
    text = str(section.body)
    for needle in ("batch", "driver (driver_id)", "driver_stats", "conv_rate", "TTL          1d"):
        assert needle in text, text
    assert "odfv" not in text, "a view built on this one is not one of its features"
    assert [link.id for link in section.links] == [RATE]


async def test_an_on_demand_view_has_request_inputs_and_no_ttl() -> None:
    entity = {
        "id": VIEW,
        "attributes": {"view_type": "on_demand", "request_sources": ["trip_request"]},
        "relationships": [
            edge("derived_from", "out", VIEW + "x", "driver_hourly_stats", "FeatureView")
        ],
    }
    text = str((await feature_view(Lineage(), entity, {})).body)  # type: ignore[arg-type]
    assert "on-demand" in text and "driver_hourly_stats, trip_request (request)" in text
    assert "TTL          none" in text


async def test_a_feature_page_shows_its_views_services_and_models() -> None:
    entity = {
        "id": RATE,
        "relationships": [
            edge("derived_from", "out", VIEW, "driver_hourly_stats", "FeatureView"),
            edge("uses_feature", "in", SERVICE, "driver_activity", "FeatureService"),
        ],
    }
    daemon = Lineage()
    section = await feature(daemon, entity, {})  # type: ignore[arg-type]
    text = str(section.body)
    assert "In views     driver_hourly_stats" in text and "Served by    driver_activity" in text
    assert "1 models via 1 instances" in text
    assert daemon.depths == [3], "through the service to the instance and its model"
    assert {link.id for link in section.links} >= {VIEW, SERVICE}
