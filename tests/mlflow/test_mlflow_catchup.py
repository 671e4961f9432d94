"""Catch-up polling: the listings diffed against the last poll find every change once,
timestamps moved or not, and the snapshot survives restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdsd.connectors.mlflow.catchup import CatchUp
from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.mlflow.normalize import rfc3339
from mdsd.connectors.policy import SourcePolicy
from mdsd.intake.events import Accepted, parse_events
from tests.mlflow.conftest import BASE_URL
from tests.mlflow.fake_mlflow import FakeMlflow, kv

DAY_SECONDS = 86400.0
EVERYTHING = [
    ("mlflow_experiment_changed", "1"),
    ("mlflow_model_changed", "iris-classifier"),
    ("mlflow_model_version_changed", "iris-classifier/1"),
    ("mlflow_model_version_changed", "iris-classifier/2"),
    ("mlflow_run_changed", "r1"),
]


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
            sorted(
                (r.event_type, "/".join(r.ids.values())) for r in results if isinstance(r, Accepted)
            )
        )


@pytest.fixture
def announced() -> Announced:
    return Announced()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "mlflow-catchup.json"


class Poller:
    """A catch-up on the fake's clock; ``poll()`` answers what that poll announced."""

    def __init__(
        self,
        connector: MlflowConnector,
        fake: FakeMlflow,
        announced: Announced,
        state: Path,
        settled: list[bool] | None = None,
    ) -> None:
        self.announced = announced
        self.catch_up = CatchUp(
            connector,
            announced.submit,
            state,
            interval_seconds=60,
            run_window_seconds=DAY_SECONDS,
            settled=lambda: (settled or [True])[-1],
            clock=lambda: fake.now / 1000,
        )

    async def poll(self) -> list[tuple[str, str]]:
        before = len(self.announced.polls)
        count = await self.catch_up.poll()
        news = self.announced.polls[-1] if len(self.announced.polls) > before else []
        assert count == len(news)
        return news


@pytest.fixture
def poller(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> Poller:
    return Poller(connector, fake, announced, state)


async def test_first_poll_imports_everything_then_only_news(
    fake: FakeMlflow, poller: Poller
) -> None:
    assert await poller.poll() == EVERYTHING
    assert await poller.poll() == []
    fake.add_version("iris-classifier", "r1")  # bumps the model too
    assert await poller.poll() == [
        ("mlflow_model_changed", "iris-classifier"),
        ("mlflow_model_version_changed", "iris-classifier/3"),
    ]


async def test_changes_that_move_no_timestamp_are_found(fake: FakeMlflow, poller: Poller) -> None:
    await poller.poll()
    fake.set_alias("iris-classifier", "champion", "2")
    assert await poller.poll() == [("mlflow_model_changed", "iris-classifier")]
    fake.models["iris-classifier"]["tags"] = kv(domain="vision", tier="gold")
    assert await poller.poll() == [("mlflow_model_changed", "iris-classifier")]
    fake.versions[("iris-classifier", "1")]["tags"] = []
    assert await poller.poll() == [("mlflow_model_version_changed", "iris-classifier/1")]
    fake.runs["r1"]["data"]["tags"] = kv(team="search")
    assert await poller.poll() == [("mlflow_run_changed", "r1")]
    fake.experiments["1"]["name"] = "iris-renamed"
    assert await poller.poll() == [("mlflow_experiment_changed", "1")]
    fake.logged_models["m-1"] = {"info": {"model_id": "m-1", "experiment_id": "1"}}
    assert await poller.poll() == [("mlflow_logged_model_changed", "m-1")]


async def test_renames_and_deletes_announce_what_vanished(fake: FakeMlflow, poller: Poller) -> None:
    await poller.poll()
    model = fake.models.pop("iris-classifier")
    fake.models["iris"] = {**model, "name": "iris"}
    for number in ("1", "2"):
        fake.versions[("iris", number)] = {
            **fake.versions.pop(("iris-classifier", number)),
            "name": "iris",
        }
    assert await poller.poll() == [
        ("mlflow_model_changed", "iris"),
        ("mlflow_model_changed", "iris-classifier"),
        ("mlflow_model_version_changed", "iris-classifier/1"),
        ("mlflow_model_version_changed", "iris-classifier/2"),
        ("mlflow_model_version_changed", "iris/1"),
        ("mlflow_model_version_changed", "iris/2"),
    ]
    del fake.versions[("iris", "2")]
    assert await poller.poll() == [("mlflow_model_version_changed", "iris/2")]
    fake.runs["r1"]["info"]["lifecycle_stage"] = "deleted"  # soft: still listed, changed
    assert await poller.poll() == [("mlflow_run_changed", "r1")]
    del fake.runs["r1"]  # purged: gone from the listing
    assert await poller.poll() == [("mlflow_run_changed", "r1")]
    fake.experiments["1"]["lifecycle_stage"] = "deleted"
    assert await poller.poll() == [("mlflow_experiment_changed", "1")]


async def test_runs_older_than_the_window_are_neither_read_nor_taken_for_gone(
    fake: FakeMlflow, poller: Poller
) -> None:
    assert ("mlflow_run_changed", "r1") in await poller.poll(), "the first poll reads all"
    fake.now += int(2 * DAY_SECONDS * 1000)
    fake.add_run("r2", "1")
    assert await poller.poll() == [("mlflow_run_changed", "r2")], "r1 left the window only"
    fake.runs["r2"]["data"] = {"metrics": [{"key": "loss", "value": 0.5, "timestamp": 1}]}
    fake.runs["r1"]["data"] = {"metrics": [{"key": "loss", "value": 0.5, "timestamp": 1}]}
    assert await poller.poll() == [("mlflow_run_changed", "r2")], "r1 is reconciliation's"
    assert poller.catch_up.stats()["known"] == {
        "models": 1,
        "versions": 2,
        "experiments": 1,
        "runs": 2,
        "logged_models": 0,
    }


async def test_the_snapshot_survives_a_restart_and_is_dropped_for_another_mlflow(
    fake: FakeMlflow, announced: Announced, state: Path
) -> None:
    async def poll(base_url: str) -> list[tuple[str, str]]:
        connector = MlflowConnector(SourcePolicy(base_url=base_url), transport=fake.transport())
        try:
            return await Poller(connector, fake, announced, state).poll()
        finally:
            await connector.aclose()

    assert await poll(BASE_URL) == EVERYTHING
    fake.set_alias("iris-classifier", "champion", "2")  # while mds is down
    assert await poll(BASE_URL) == [("mlflow_model_changed", "iris-classifier")]
    assert await poll(BASE_URL) == [], "restarted: nothing new"
    assert await poll("http://another-mlflow.test") == EVERYTHING, "imported afresh"


async def test_the_snapshot_does_not_move_when_the_intake_fails(
    fake: FakeMlflow, poller: Poller, announced: Announced, state: Path
) -> None:
    announced.fail = True
    with pytest.raises(OSError):
        await poller.poll()
    assert not state.exists()
    announced.fail = False
    assert await poller.poll() == EVERYTHING, "nothing was lost"
    assert poller.catch_up.stats()["announced"] == len(EVERYTHING)


async def test_in_step_once_a_complete_poll_is_hydrated(
    fake: FakeMlflow, connector: MlflowConnector, announced: Announced, state: Path
) -> None:
    settled = [False]
    poller = Poller(connector, fake, announced, state, settled)
    assert poller.catch_up.in_step_at() is None
    polled_at = rfc3339(fake.now)
    await poller.poll()
    assert poller.catch_up.in_step_at() is None, "what it announced is not written yet"
    settled.append(True)
    assert poller.catch_up.in_step_at() == polled_at
    settled.append(False)
    fake.tick()
    await poller.poll()
    assert poller.catch_up.in_step_at() == polled_at, "the last poll known written"
