"""``-o table|json|jsonl|yaml|ids`` on every command that answers, and ``mds watch``."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_mdsd import DATASET, FEATURE, INSTANCE, MODEL, FakeDaemon, Run

from mds.cli import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, build_parser
from mds.cli.introspect import commands

#: every command that asks the daemon once, with arguments that work on the fake
ASKING = {
    "search": ["search", "ranking"],
    "show": ["show", INSTANCE],
    "neighbors": ["neighbors", INSTANCE],
    "lineage": ["lineage", INSTANCE],
    "impact": ["impact", DATASET],
    "deps": ["deps", INSTANCE],
    "usage": ["usage", MODEL],
    "path": ["path", DATASET, MODEL],
    "history": ["history"],
    "similar": ["similar", MODEL],
    "suggest": ["suggest", MODEL],
    "quality": ["quality"],
    "graphql": ["graphql", "{ status }"],
    "ingest": ["ingest", "--allow-rejects", "-"],
    "status": ["status"],
    "dead-letters": ["dead-letters"],
    "redrive": ["redrive", "--all"],
    "reconcile": ["reconcile"],
    "wait": ["wait", "--idle"],
}


def test_every_command_that_asks_takes_every_format() -> None:
    views = {v.name: v for v in commands(build_parser())}
    reads = {*ASKING, "watch", "context ls"}
    assert reads == {n for n, v in views.items() if "-o" in _flags(v)}
    for name in reads:
        output = next(p for p in views[name].params if "-o" in p.flags)
        drawn = ("graph", "dot", "mermaid") if name == "lineage" else ()
        assert output.choices == ("table", "json", "jsonl", "yaml", "ids", *drawn)


def _flags(view) -> set[str]:  # type: ignore[no-untyped-def]
    return {f for p in view.params for f in p.flags}


@pytest.mark.parametrize("name", sorted(ASKING))
def test_json_yaml_and_jsonl_carry_the_same_answer(name: str, mds: Run) -> None:
    argv = ASKING[name]
    as_json = mds(*argv, "-o", "json", stdin=b"{}")
    assert as_json.code == EXIT_OK, as_json.err
    assert mds(*argv, "--json", stdin=b"{}").out == as_json.out
    assert yaml.safe_load(mds(*argv, "-o", "yaml", stdin=b"{}").out) == as_json.json
    lines = mds(*argv, "-o", "jsonl", stdin=b"{}").out.splitlines()
    records = [json.loads(line) for line in lines]
    assert all("\n" not in line for line in lines)
    assert records == [as_json.json] or all(isinstance(r, dict) for r in records)


@pytest.mark.parametrize(
    ("argv", "records"),
    [
        (["search", "ranking"], "results"),
        (["lineage", INSTANCE], "nodes"),
        (["dead-letters"], "dead_letters"),
    ],
)
def test_jsonl_is_one_line_per_listed_record(argv: list[str], records: str, mds: Run) -> None:
    whole = mds(*argv, "--json").json
    lines = mds(*argv, "-o", "jsonl").out.splitlines()
    assert [json.loads(line) for line in lines] == whole[records]


def test_ids_are_one_a_line(mds: Run) -> None:
    search = mds("search", "ranking", "--json").json
    assert mds("search", "ranking", "-o", "ids").out.splitlines() == [
        hit["id"] for hit in search["results"]
    ]
    assert mds("show", INSTANCE, "-o", "ids").out == f"{INSTANCE}\n"
    impact = mds("impact", DATASET, "-o", "ids").out.splitlines()
    assert impact and all(i.startswith("aip://") for i in impact)
    assert len(impact) == len(set(impact))
    assert mds("dead-letters", "-o", "ids").out == "1\n"


def test_ids_of_an_answer_without_ids_is_bad_usage(mds: Run, daemon: FakeDaemon) -> None:
    result = mds("status", "-o", "ids")
    assert result.code == EXIT_USAGE
    assert result.err == "mds: `mds status` answers no ids; use -o json, jsonl or yaml\n"
    assert daemon.requests == []  # refused before asking


def test_an_unknown_format_is_bad_usage(mds: Run) -> None:
    assert mds("status", "-o", "xml").code == EXIT_USAGE


def test_watch_prints_each_change_until_the_stream_ends(mds: Run) -> None:
    result = mds("watch")
    assert result.code == EXIT_UNAVAILABLE  # the daemon ended the stream
    assert result.out.splitlines() == [
        "tx 119  2025-01-02T03:04:05Z  2 entities: ranking-model-v5-20250101, ranking-model"
        "  (kind=event)",
        "tx 120  2025-01-02T03:04:05Z  1 entity: playback-events  (reconcile)",
        "tx 121  2025-01-02T03:04:05Z  2 entities: ranking-model, watch-time-7d",
    ]
    assert result.err == "mds: mdsd at the in-process app closed the change stream\n"


def test_watch_an_entity_or_a_kind(mds: Run) -> None:
    one = mds("watch", MODEL, "--count", "2", "-o", "jsonl")
    assert one.code == EXIT_OK
    assert [(n["tx"], n["entities"]) for n in map(json.loads, one.out.splitlines())] == [
        (119, [MODEL]),
        (121, [MODEL]),
    ]
    kind = mds("watch", "--type", "feature", "--count", "1", "-o", "ids")
    assert kind.out == f"{FEATURE}\n"
    assert mds("watch", "--count", "3", "-o", "ids").out.splitlines() == [
        INSTANCE,
        MODEL,
        DATASET,
        MODEL,
        FEATURE,
    ]
    docs = mds("watch", "--count", "2", "-o", "yaml").out
    assert [d["tx"] for d in yaml.safe_load_all(docs)] == [119, 120]
