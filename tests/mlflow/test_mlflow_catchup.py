"""Catch-up polling: the cursor finds what deliveries missed, once, and survives restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mdsd.connectors.mlflow.catchup import LOOKBACK_MS, CatchUp, Cursor
from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.policy import SourcePolicy
from mdsd.intake.events import Accepted, parse_events
from tests.mlflow.conftest import BASE_URL
from tests.mlflow.fake_mlflow import FakeMlflow


class Announced:
    """The intake, as far as catch-up sees it: every event submitted, by poll."""

    def __init__(self) -> None:
        self.polls: list[list[tuple[str, str]]] = []
        self.fail = False

    async def submit(self, raw: bytes, origin: str) -> None:
        if self.fail:
            raise OSError("journal unavailable")
        results = parse_events(raw, origin)
        assert all(isinstance(r, Accepted) for r in results), results
        self.polls.append(
            [(r.event_type, "/".join(r.ids.values())) for r in results if isinstance(r, Accepted)]
        )

    @property
    def last(self) -> list[tuple[str, str]]:
        return self.polls[-1] if self.polls else []


@pytest.fixture
def announced() -> Announced:
    return Announced()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "mlflow-catchup.json"


def catch_up(connector: MlflowConnector, announced: Announced, state: Path) -> CatchUp:
    return CatchUp(connector, announced.submit, state, interval_seconds=60)


def test_cursor_remembers_the_lookback_window() -> None:
    cursor = Cursor().advanced({"a": 10_000_000, "b": 10_000_000 - LOOKBACK_MS - 1})
    assert cursor.newest_ms == 10_000_000
    assert cursor.recent == {"a": 10_000_000}, "older items can never be news again"
    assert not cursor.is_news("a", 10_000_000)
    assert cursor.is_news("a", 10_000_001), "an update moves the timestamp"
    assert cursor.is_news("c", 10_000_000 - 5), "a late commit within the window"
    assert not cursor.is_news("c", cursor.floor_ms - 1)
    assert Cursor.from_json(json.loads(json.dumps(cursor.to_json()))) == cursor


async def test_first_poll_imports_everything_then_only_news(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> None:
    poller = catch_up(connector, announced, state)
    assert await poller.poll() == 3
    assert sorted(announced.last) == [
        ("mlflow_model_changed", "iris-classifier"),
        ("mlflow_model_version_changed", "iris-classifier/1"),
        ("mlflow_model_version_changed", "iris-classifier/2"),
    ]
    assert await poller.poll() == 0
    fake.add_version("iris-classifier", "r1")  # bumps the model too
    assert await poller.poll() == 2
    assert sorted(announced.last) == [
        ("mlflow_model_changed", "iris-classifier"),
        ("mlflow_model_version_changed", "iris-classifier/3"),
    ]


async def test_a_late_commit_with_an_older_timestamp_is_found(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> None:
    poller = catch_up(connector, announced, state)
    await poller.poll()
    late = fake.add_version("iris-classifier", "r1")
    late["last_updated_timestamp"] = (
        fake.versions[("iris-classifier", "2")]["last_updated_timestamp"] - 5
    )
    await poller.poll()
    assert ("mlflow_model_version_changed", "iris-classifier/3") in announced.last


async def test_the_walk_stops_at_the_cursor(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> None:
    fake.add_model("old")
    for _ in range(2500):  # three pages of old versions
        fake.add_version("old")
    fake.now += 10 * LOOKBACK_MS
    poller = catch_up(connector, announced, state)
    await poller.poll()
    before = fake.requests["model-versions/search"]
    fake.add_version("iris-classifier", "r1")
    assert await poller.poll() == 2
    assert fake.requests["model-versions/search"] - before == 1, "only the newest page is read"


async def test_the_cursor_survives_a_restart_and_is_dropped_for_another_mlflow(
    fake: FakeMlflow, announced: Announced, state: Path
) -> None:
    async def poll(base_url: str) -> int:
        connector = MlflowConnector(SourcePolicy(base_url=base_url), transport=fake.transport())
        try:
            return await catch_up(connector, announced, state).poll()
        finally:
            await connector.aclose()

    assert await poll(BASE_URL) == 3
    assert await poll(BASE_URL) == 0, "restarted: nothing new"
    assert await poll("http://another-mlflow.test") == 3, "a new MLflow is imported afresh"


async def test_the_cursor_does_not_move_when_the_intake_fails(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> None:
    poller = catch_up(connector, announced, state)
    announced.fail = True
    with pytest.raises(OSError):
        await poller.poll()
    assert not state.exists()
    announced.fail = False
    assert await poller.poll() == 3, "nothing was lost"
    assert poller.stats()["announced"] == 3
