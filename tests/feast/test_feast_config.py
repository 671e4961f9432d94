"""``[sources.feast]``: a registry instead of a base_url, checked like every table, and a
model instance naming Feast features by id."""

from __future__ import annotations

import pytest

from mdsd.config import ConfigError, parse_config
from mdsd.connectors.feast.settings import FeastPolicy
from mdsd.connectors.registry import feature_refs


def test_the_one_table_a_feast_user_adds() -> None:
    config = parse_config(
        '[sources.feast]\nregistry = "sqlite:////srv/feast/registry.db"\n'
        'projects = ["rides"]\npoll_interval_seconds = 10\n'
        '[sources.feast.namespaces]\nfile = "datasets"\n'
    )
    policy = config.sources["feast"]
    assert isinstance(policy, FeastPolicy)
    assert policy.projects == ["rides"] and policy.poll_interval_seconds == 10.0
    assert policy.namespaces == {"file": "datasets"} and policy.is_sql


@pytest.mark.parametrize(
    ("registry", "sql"),
    [
        ("data/registry.db", False),
        ("/srv/repo/data/registry.pb", False),
        ("s3://bucket/registry.pb", False),
        ("gs://bucket/registry.pb", False),
        ("sqlite:///registry.db", True),
        ("postgresql+psycopg://feast@db/feast", True),
    ],
)
def test_a_registry_is_a_file_or_a_sql_url(registry: str, sql: bool) -> None:
    assert FeastPolicy(registry=registry).is_sql is sql


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ('registri = "r.db"', "unknown key 'sources.feast.registri'"),
        ("", "needs registry"),
        ('registry = "r.db"\nbase_url = "http://feast"', "set registry, not base_url"),
        ('registry = "r.db"\npoll_interval_seconds = 0', "poll_interval_seconds must be > 0"),
        ('registry = "r.db"\nprojects = "rides"', "'sources.feast.projects' must be a list"),
        (
            'registry = "r.db"\n[sources.feast.namespaces]\nfile = "nowhere"',
            "[sources.feast] namespaces 'file' names no source 'nowhere'",
        ),
    ],
)
def test_a_wrong_table_is_an_error_that_names_it(table: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"[sources.feast]\n{table}\n")
    assert reason in str(raised.value)


def test_an_http_source_still_needs_its_base_url() -> None:
    with pytest.raises(ConfigError, match=r"\[sources.registry\] needs base_url"):
        parse_config("[sources.registry]\nconcurrency = 2\n")


def test_an_instance_names_feast_features_and_services_by_id() -> None:
    service = "aip://feature-service/feast/rides/driver_activity"
    rate = "aip://feature/feast/rides/driver_hourly_stats/conv_rate"
    assert feature_refs([service, rate, "watch-time-7d", "aip://model/registry/m"]) == [
        service,
        rate,
        "aip://feature/featurestore/watch-time-7d",
        "aip://feature/featurestore/aip://model/registry/m",
    ]
