"""The docs' example questions, verbatim, against a real ``mdsd demo`` whose world keeps
changing: each answers with exit 0, each search finds something, every id they name can be
shown, and the answers say what the README says they do."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from mds.testing import CliResult
from mds.wire.moments import parse_as_of
from simulator.world import World
from tests.doc_examples import documented_commands, documented_ids, is_for_other_sources
from tui.demo import DemoDaemon

pytestmark = pytest.mark.slow

#: the commands that ask the graph; the others change it, wait, or print scripts
QUESTIONS = frozenset(
    {
        "search", "show", "neighbors", "lineage", "impact", "deps", "usage", "path",
        "history", "similar", "suggest", "graphql",
    }
)  # fmt: skip
_PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*")
#: the oldest moment an example's --known-at may ask for, relative to when the demo settled
_MOST_WAIT_SECONDS = 120.0


def _questions() -> list[list[str]]:
    """The documented question lines (without ``mds``), each once; not those naming a
    placeholder (ID) or a file (@query.graphql), nor those on MLflow's or Feast's data."""
    found = {
        shlex.join(argv[1:])
        for _, argv in documented_commands()
        if argv[0] == "mds"
        and argv[1:2]
        and argv[1] in QUESTIONS
        and not any(_PLACEHOLDER.fullmatch(w) or w.startswith("@") for w in argv)
        and not is_for_other_sources(argv)
    }
    found |= {shlex.join(["show", xid]) for xid in documented_ids()}
    return [shlex.split(line) for line in sorted(found)]


def _known_at(args: list[str]) -> str | None:
    """The example's system time: ``--known-at``, or an ``--as-of tx:N`` (its valid-time
    ``--as-of`` asks about the world's own dates, which the demo holds from the start)."""
    if "--known-at" in args:
        return args[args.index("--known-at") + 1]
    return args[args.index("--as-of") + 1] if "--as-of" in args else None


class Demo(NamedTuple):
    socket: Path
    #: when it had taken in its world
    settled: datetime


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``mdsd demo`` as the README starts it (a small world, changing twice a second), once
    it has taken in its world."""
    socket = tmp_path_factory.mktemp("demo") / "mdsd.sock"
    daemon = DemoDaemon(socket, timeout=120, extra_args=("--size", "300"))
    assert daemon.ensure()
    try:
        # idle is not enough: the daemon may be idle before the demo's first events reach
        # it (its sender backs off while the daemon starts), so also wait for the world
        world = World.generate(size=300, seed=1).entity_count()
        deadline = time.monotonic() + 120
        while (waited := mds(socket, "wait", "--idle", "--timeout", "60")).code != 0 or (
            mds(socket, "status", "--json").json["resolved"] < world
        ):
            assert time.monotonic() < deadline, f"the demo never settled: {waited.err}"
            time.sleep(1)
        yield Demo(socket, datetime.now(UTC))
    finally:
        daemon.stop()


def mds(socket: Path, *args: str) -> CliResult:
    done = subprocess.run(
        [sys.executable, "-m", "mds", "--socket", str(socket), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def test_the_answers_are_what_the_readme_says(demo: Demo) -> None:
    v5 = "aip://model-instance/registry/ranking-model-v5-20250101"
    model, dataset = "aip://model/registry/ranking-model", "aip://dataset/datasets/playback-events"
    test, cell = "aip://ab-test/experiments/12345", "aip://ab-test-cell/experiments/12345/2"
    found = mds(demo.socket, "search", "type:model owner:alice tag:team=personalization", "--json")
    assert model in {r["id"] for r in found.json["results"]}
    inferred = {
        (n["type"], n["id"])
        for n in mds(demo.socket, "neighbors", v5, "--json").json["neighbors"]
        if n["inferred"]
    }
    assert {("tested_in", test), ("tested_in", cell)} <= inferred
    tests = mds(demo.socket, "usage", model, "--json").json["ab_tests"]
    assert v5 in next(t["via"] for t in tests if t["id"] == test)
    upstream = mds(demo.socket, "lineage", v5, "--direction", "upstream", "--json").json
    assert {
        "aip://pipeline-run/orchestrator/train-weekly-ranking-20250101",
        "aip://pipeline/orchestrator/weekly-ranking-trainer",
        "aip://dataset-version/datasets/playback-events@2025-01-01",
        dataset,
        "aip://feature/featurestore/watch-time-7d",
    } <= {n["id"] for n in upstream["nodes"]}
    impact = mds(demo.socket, "impact", dataset, "--json").json
    assert {model, v5, test} <= {e["id"] for g in impact["groups"] for e in g["entities"]}


def test_every_documented_question_answers_against_the_demo(demo: Demo) -> None:
    questions = _questions()
    assert len(questions) > 15, questions
    # Questions --known-at a moment go last: that moment must have come after the demo
    # settled (a valid time --as-of, a date of the world, needs no wait: it is in the past).
    failures = []
    for args in sorted(questions, key=lambda a: _known_at(a) is not None):
        if (when := _known_at(args)) is not None:
            moment = parse_as_of(when)
            if isinstance(moment, datetime) and "--known-at" in args:
                wait = (demo.settled - moment).total_seconds() + 1
                assert wait < _MOST_WAIT_SECONDS, f"mds {shlex.join(args)}: before any demo"
                time.sleep(max(0.0, wait))
        result = mds(demo.socket, *args)
        if result.code != 0 or (args[0] == "search" and "aip://" not in result.out):
            failures.append(f"mds {shlex.join(args)} -> {result.code}: {result.err.strip()}")
    assert failures == []
