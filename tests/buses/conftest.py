"""Broker fixtures: each test gets its own broker, or a skip saying why there is none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.buses.brokers import AWS_ENV, BrokerUnavailable, KafkaBroker, MotoServer


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    pytest.importorskip("aiokafka", reason="the kafka extra is not installed")
    try:
        broker = KafkaBroker(tmp_path)
    except BrokerUnavailable as exc:
        pytest.skip(f"no Kafka broker on this machine: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, for the tests and the daemons they start (which inherit them)."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto(tmp_path: Path, aws_env: None) -> Iterator[MotoServer]:
    pytest.importorskip("aiobotocore", reason="the sqs extra is not installed")
    try:
        server = MotoServer(tmp_path)
    except BrokerUnavailable as exc:
        pytest.skip(f"no moto_server on this machine: {exc}")
    try:
        yield server
    finally:
        server.stop()
