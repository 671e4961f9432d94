"""Every ``mds`` command against the real daemon: ``--json`` shapes (contract 2.3),
``--as-of`` before and after a change, and the exit codes 0, 1, 2 and 3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import contract_shapes as shape
import pytest
from api_world import Truth, aip, jsonl
from e2e_support import Platform, mds

from mds.cli import EXIT_REJECTED

pytestmark = pytest.mark.slow

UNKNOWN = "aip://model/registry/no-such-model"


def picks(truth: Truth) -> dict[str, str]:
    instance, test = truth.tested_instance()
    return {
        "MODEL": aip("models", truth["instances"][instance]["model_id"]),
        "INSTANCE": aip("instances", instance),
        "TEST": aip("tests", test),
        "DATASET": aip("datasets", truth.raw_dataset()),
        "NAME": truth["instances"][instance]["model_id"],
        "VARS": json.dumps({"id": aip("models", truth["instances"][instance]["model_id"])}),
    }


def no_check(doc: Any) -> None:
    assert isinstance(doc, dict)


#: argv (with placeholders from ``picks``) -> the shape its --json answer must have
COMMANDS: dict[str, tuple[tuple[str, ...], Callable[[Any], None]]] = {
    "search": (("search", "NAME", "--type", "model", "--limit", "5"), shape.search),
    "show": (("show", "INSTANCE"), shape.show),
    "neighbors": (("neighbors", "INSTANCE"), shape.neighbors),
    "lineage up": (("lineage", "INSTANCE", "--depth", "3"), shape.lineage),
    "lineage down": (("lineage", "DATASET", "--direction", "downstream"), shape.lineage),
    "lineage types": (("lineage", "INSTANCE", "--types", "produced_by,run_of"), shape.lineage),
    "impact": (("impact", "DATASET"), shape.impact),
    "deps": (("deps", "INSTANCE"), shape.dependencies),
    "usage of a model": (("usage", "MODEL"), shape.usage),
    "usage of a test": (("usage", "TEST"), shape.usage),
    "path": (("path", "DATASET", "MODEL"), shape.path),
    "history of one": (("history", "MODEL", "--limit", "5"), shape.history),
    "history of all": (("history", "--limit", "5"), shape.graph_history),
    "status": (("status",), shape.status),
    "dead-letters": (("dead-letters", "--limit", "5"), shape.dead_letters),
    "wait": (("wait", "--idle", "--timeout", "30"), shape.status),
    "similar": (("similar", "MODEL", "--limit", "3"), no_check),
    "suggest": (("suggest", "MODEL", "--limit", "3"), no_check),
    "quality": (("quality",), no_check),
    "graphql": (
        ("graphql", "query($id: ID!) { entity(id: $id) { name } }", "--variables", "VARS"),
        lambda doc: shape.keys(doc["data"]["entity"], {"name"}, "graphql entity"),
    ),
}


def fill(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    return [values.get(a, a) for a in argv]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_json_shape(platform: Platform, command: str) -> None:
    argv, check = COMMANDS[command]
    result = platform.daemon.mds(*fill(argv, picks(platform.truth)), "--json")
    assert result.code == 0, result
    check(result.json)


def test_the_text_output_is_for_people(platform: Platform) -> None:
    values = picks(platform.truth)
    shown = platform.daemon.mds("show", values["INSTANCE"])
    assert shown.code == 0 and values["INSTANCE"] in shown.out
    assert not shown.out.lstrip().startswith("{")
    tree = platform.daemon.mds("lineage", values["INSTANCE"], "--depth", "2")
    assert tree.code == 0 and values["MODEL"] not in tree.out  # upstream holds no model


def test_a_models_upstream_reaches_through_the_openlineage_runs_that_landed_its_data(
    platform: Platform,
) -> None:
    """ranking-model <- its features <- playback-events <- device-events, whose partitions
    the landing job's OpenLineage runs wrote from a Kafka topic (the simulator's lineage)."""
    lineage = platform.daemon.mds("lineage", "aip://model/registry/ranking-model", "--json")
    assert lineage.code == 0, lineage
    reached = {node["id"] for node in lineage.json["nodes"]}
    runs = {
        f"aip://pipeline-run/openlineage/{run['run_id']}"
        for run in platform.simulator.truth()["lineage"]["runs"]
        if run["job"]["name"] == "land-device-events"
    }
    assert runs and runs <= reached
    assert "aip://pipeline/openlineage/ingestion/land-device-events" in reached
    topic = "aip://dataset/openlineage/kafka%3A%2F%2Fevents%3A9092/device-events"
    assert topic in reached
    edges = {(e["source"], e["target"], e["type"]) for e in lineage.json["edges"]}
    run = sorted(runs)[0]
    assert (run, "aip://dataset/datasets/device-events", "writes") in edges
    assert (run, topic, "reads") in edges


def test_ingest_reads_stdin_and_reports_rejections(platform: Platform) -> None:
    model = sorted(platform.truth["models"])[0]
    body = jsonl([{"event_type": "model_updated", "model_id": model}]) + b"not json\n"
    result = platform.daemon.mds("ingest", "-", "--json", stdin=body)
    assert result.code == EXIT_REJECTED  # the accepted one is in all the same
    assert result.json["accepted"] == 1
    assert [r["index"] for r in result.json["rejected"]] == [1]
    text = platform.daemon.mds("ingest", "-", "--allow-rejects", stdin=b"not json\n")
    assert text.code == 0 and "not JSON" in text.err
    assert platform.daemon.mds("wait", "--idle").code == 0

    letters = platform.daemon.mds("dead-letters", "--json").json["dead_letters"]
    bad = [str(d["id"]) for d in letters if d["raw"] == "not json"]
    assert bad, letters
    redriven = platform.daemon.mds("redrive", *bad, "--json")
    assert redriven.code == 0
    assert redriven.json == {"redriven": 0, "rejected": len(bad), "missing": []}


def test_reconcile_starts_a_pass(platform: Platform) -> None:
    result = platform.daemon.mds("reconcile", "--json")
    assert result.code == 0 and result.json["started"] is True


def test_as_of_shows_the_graph_before_a_change(platform: Platform) -> None:
    """Change the world, feed its events through ``mds ingest -``, and read both views."""
    daemon, simulator = platform.daemon, platform.simulator
    before_tx = daemon.mds("status", "--json").json["last_tx"]
    before = Truth.of(simulator.truth())
    events = simulator.mutate(60)
    assert daemon.mds("ingest", "-", stdin=jsonl(events)).code == 0
    assert daemon.mds("wait", "--idle", "--timeout", "60").code == 0
    after = Truth.of(simulator.truth())

    kept = sorted(before["models"].keys() & after["models"].keys())
    changed = [m for m in kept if before["models"][m] != after["models"][m]]
    assert changed, "60 changes touched no model"  # the world is seeded: not flaky
    model = aip("models", changed[0])
    old = f"tx:{before_tx}"
    now = daemon.mds("show", model, "--json").json
    then = daemon.mds("show", model, "--json", "--as-of", old).json
    assert now["updated_at"] == after["models"][changed[0]]["updated_at"]
    assert then["updated_at"] == before["models"][changed[0]]["updated_at"]
    assert then["as_of"]["tx"] == before_tx

    runs = sorted(after["pipeline-runs"].keys() - before["pipeline-runs"].keys())
    assert runs, "60 changes started no run"
    run = aip("pipeline-runs", runs[0])
    assert daemon.mds("show", run).code == 0
    missing = daemon.mds("show", run, "--as-of", old)
    assert missing.code == 1 and "as of tx" in missing.err
    text = daemon.mds("show", model, "--as-of", old)
    assert text.code == 0 and f"tx {before_tx}" in text.out  # the footer names the view


@pytest.mark.parametrize(
    "argv",
    [
        ("show", UNKNOWN),
        ("lineage", UNKNOWN),
        ("impact", UNKNOWN),
        ("deps", UNKNOWN),
        ("usage", UNKNOWN),
        ("history", UNKNOWN),
        ("path", UNKNOWN, "DATASET"),
        ("show", "MODEL", "--as-of", "tx:0"),
        ("path", "DATASET", "TEST", "--max-depth", "1"),
    ],
)
def test_what_does_not_exist_exits_1(platform: Platform, argv: tuple[str, ...]) -> None:
    result = platform.daemon.mds(*fill(argv, picks(platform.truth)))
    assert result.code == 1, result
    assert result.out == "" and result.err.startswith("mds: ")


@pytest.mark.parametrize(
    "argv",
    [
        ("frobnicate",),
        ("show",),
        ("show", "MODEL", "--colour"),
        ("show", "MODEL", "--as-of", "soon"),
        ("show", "MODEL", "--as-of", "99999999999d"),  # a well-formed age that names no moment
        ("lineage", "MODEL", "--depth", "-1"),
        ("lineage", "MODEL", "--direction", "sideways"),
        ("lineage", "MODEL", "--types", "friends_with"),
        ("search", "type:spaceship"),
        ("usage", "DATASET"),
        ("redrive",),
        ("graphql", "{ nonsense }"),
    ],
)
def test_bad_usage_exits_2(platform: Platform, argv: tuple[str, ...]) -> None:
    result = platform.daemon.mds(*fill(argv, picks(platform.truth)))
    assert result.code == 2, result
    assert result.err.strip()


@pytest.mark.parametrize("argv", [("status",), ("show", UNKNOWN), ("wait", "--idle")])
def test_no_daemon_exits_3(tmp_path: Path, argv: tuple[str, ...]) -> None:
    result = mds(*argv, "--socket", str(tmp_path / "nobody-home.sock"))
    assert result.code == 3, result
    assert "not reachable" in result.err


def test_mds_socket_comes_from_the_environment(platform: Platform) -> None:
    result = mds("status", "--json", env={"MDS_SOCKET": str(platform.daemon.socket)})
    assert result.code == 0 and isinstance(result.json["last_tx"], int)
