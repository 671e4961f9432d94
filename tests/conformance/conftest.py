"""Fixtures: the conformance platform with the hand-built organisation, a real daemon on a
temp socket, loaded through every door with duplicated, shuffled and malformed events."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.harness import Harness, running
from tests.conformance.org import MALFORMED, initial_events, organisation
from tests.conformance.platform import Fault


def load(h: Harness) -> None:
    """Feed the initial events (duplicated, out of order, with malformed ones between)
    through the socket (``mds ingest -``) and the inbox, and wait until idle.

    Some first reads are answered 429 (``Retry-After`` in seconds, and as an HTTP date)
    or 503, so the daemon must back off and come back."""
    h.platform.fail("/api/v1/models/ranking-model", Fault("429-seconds", 1))
    h.platform.fail("/api/v1/features/watch-time-7d", Fault("429-date", 2))
    h.platform.fail("/api/v1/tests/12345", Fault("503"), Fault("503"))
    events = initial_events()
    rng = random.Random(20250101)
    events += rng.sample(events, len(events) // 2)
    rng.shuffle(events)
    lines: list[str] = [json.dumps(e) for e in events]
    for bad in MALFORMED:
        lines.insert(rng.randrange(len(lines) + 1), bad)
    half = len(lines) // 2
    answer = h.ingest(lines[:half])
    assert answer["accepted"] + len(answer["rejected"]) == half, answer
    inbox = h.daemon.data_dir / "inbox"
    (inbox / ".rest.part").write_text("\n".join(lines[half:]) + "\n")
    (inbox / ".rest.part").rename(inbox / "rest.jsonl")
    single = {"event_type": "team_updated", "team_id": "personalization", "event_id": "t-1"}
    (inbox / ".one.part").write_text(json.dumps(single))
    (inbox / ".one.part").rename(inbox / "one.json")
    h.wait_idle()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One daemon over the initial organisation, shared by read-only tests."""
    with running(tmp_path_factory.mktemp("conformance"), organisation()) as h:
        load(h)
        yield h


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Harness]:
    """A daemon of its own over a fresh organisation, for tests that change the sources."""
    with running(tmp_path, organisation()) as h:
        load(h)
        yield h
