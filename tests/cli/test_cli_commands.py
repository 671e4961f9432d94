"""Every command against the fake daemon: the right request, the answer passed through
as-is with --json, and text output that survives every answer profile."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fake_mdsd import (
    AB_TEST,
    DATASET,
    INSTANCE,
    MODEL,
    FakeDaemon,
    Run,
)

from mds.cli import EXIT_REJECTED, build_parser
from mds.cli.introspect import commands
from mds.target import Target
from mds.wire.paths import default_socket_path


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return " ".join(self.argv[:2])


CASES = [
    Case(("status",), "GET", "/v1/status"),
    Case(
        ("search", "ranking", "model", "--type", "ModelInstance", "--limit", "5", "--as-of", "3d"),
        "GET",
        "/v1/search",
        {"q": "ranking model", "type": "model-instance", "limit": "5", "as_of": "3d"},
    ),
    Case(
        ("show", INSTANCE, "--as-of", "tx:42"),
        "GET",
        "/v1/entity",
        {"id": INSTANCE, "as_of": "tx:42"},
    ),
    Case(("neighbors", INSTANCE), "GET", "/v1/neighbors", {"id": INSTANCE}),
    Case(
        (
            "lineage",
            INSTANCE,
            "--direction",
            "downstream",
            "--depth",
            "3",
            "--types",
            "reads,writes",
        ),
        "GET",
        "/v1/lineage",
        {"id": INSTANCE, "direction": "downstream", "depth": "3", "types": "reads,writes"},
    ),
    Case(
        ("impact", DATASET, "--as-of", "2025-01-01", "--known-at", "tx:7"),
        "GET",
        "/v1/impact",
        {"as_of": "2025-01-01", "known_at": "tx:7"},
    ),
    Case(
        ("deps", INSTANCE, "--known-at", "1h"),
        "GET",
        "/v1/dependencies",
        {"id": INSTANCE, "known_at": "1h"},
    ),
    Case(("usage", MODEL), "GET", "/v1/usage", {"id": MODEL}),
    Case(("usage", AB_TEST), "GET", "/v1/usage", {"id": AB_TEST}),
    Case(
        ("path", DATASET, MODEL, "--max-depth", "4"),
        "GET",
        "/v1/path",
        {"from": DATASET, "to": MODEL, "max_depth": "4"},
    ),
    Case(
        ("history", INSTANCE, "--limit", "2", "--before-tx", "100"),
        "GET",
        "/v1/history",
        {"id": INSTANCE, "limit": "2", "before_tx": "100"},
    ),
    Case(("history",), "GET", "/v1/history"),
    Case(("similar", MODEL, "--limit", "3"), "GET", "/v1/similar", {"id": MODEL, "limit": "3"}),
    Case(("suggest", MODEL), "GET", "/v1/suggestions", {"id": MODEL}),
    Case(("quality", "--stale-days", "3"), "GET", "/v1/quality", {"stale_days": "3"}),
    Case(
        ("graphql", "{ entity { name } }", "--as-of", "2025-01-01T00:00:00Z", "--known-at", "3d"),
        "POST",
        "/v1/graphql",
        {"as_of": "2025-01-01T00:00:00Z", "known_at": "3d"},
    ),
    Case(("dead-letters", "--limit", "5"), "GET", "/v1/dead-letters", {"limit": "5"}),
    Case(("redrive", "1", "2"), "POST", "/v1/dead-letters/redrive"),
    Case(("redrive", "--all"), "POST", "/v1/dead-letters/redrive"),
    Case(("reconcile",), "POST", "/v1/reconcile"),
    Case(("wait", "--idle", "--timeout", "5"), "GET", "/v1/wait-idle", {"timeout": "5"}),
    Case(("wait", "--idle", "--timeout", "2m"), "GET", "/v1/wait-idle", {"timeout": "120"}),
    Case(("wait", "--idle", "--timeout", "2.5"), "GET", "/v1/wait-idle", {"timeout": "2.5"}),
    Case(("ingest", "--allow-rejects", "-"), "POST", "/v1/events"),
]
#: commands with tests of their own: a stream (watch), no daemon at all (context ...)
APART = {"completion", "watch", "context", "context add", "context use", "context ls", "context rm"}
EVENT = b'{"event_type": "model_updated", "model_id": "ranking-model"}\n'

profiles = pytest.mark.parametrize("daemon", ["full", "empty", "sparse"], indirect=True)


def test_every_command_has_a_case() -> None:
    names = {view.name for view in commands(build_parser())} - APART
    assert names == {case.argv[0] for case in CASES}


@profiles
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_json_is_the_daemons_answer_as_is(case: Case, mds: Run, daemon: FakeDaemon) -> None:
    result = mds(*case.argv, "--json", stdin=EVENT)
    seen = daemon.requests[-1]
    assert (seen.method, seen.path) == (case.method, case.path)
    assert case.params.items() <= seen.params.items()
    assert result.code == 0, result.err
    assert result.json == daemon.document(seen.path, seen.params)
    assert result.out.startswith("{\n  ") or result.out == "{}\n"  # pretty


@profiles
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_text_output_renders_every_profile(case: Case, mds: Run, daemon: FakeDaemon) -> None:
    result = mds(*case.argv, stdin=EVENT)
    assert result.code == 0, result.err
    if case.argv[0] != "graphql":
        assert not result.out.startswith("{")
    assert result.out or result.err  # says something, even about nothing


def test_json_flag_works_before_the_command(mds: Run) -> None:
    assert mds("--json", "status").json["entities"] == 42


def test_ingest_sends_stdin_verbatim_and_reports_rejections(mds: Run, daemon: FakeDaemon) -> None:
    result = mds("ingest", "-", stdin=EVENT * 2)
    assert daemon.requests[-1].body == EVENT * 2
    assert result.code == EXIT_REJECTED
    assert result.out == "accepted 2, rejected 1\n"
    assert "event 2 rejected: unknown event_type 'x'" in result.err
    assert result.err.endswith("mds: 1 of 3 events refused (--allow-rejects exits 0)\n")


def test_ingest_reads_a_file(mds: Run, daemon: FakeDaemon, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(EVENT)
    assert mds("ingest", str(events), "--allow-rejects").code == 0
    assert daemon.requests[-1].body == EVENT


def test_redrive_sends_ids_or_all(mds: Run, daemon: FakeDaemon) -> None:
    mds("redrive", "3", "4")
    assert json.loads(daemon.requests[-1].body) == {"ids": [3, 4]}
    mds("redrive", "--all")
    assert json.loads(daemon.requests[-1].body) == {"all": True}


def test_graphql_reads_query_and_variables(mds: Run, daemon: FakeDaemon, tmp_path: Path) -> None:
    query = tmp_path / "q.graphql"
    query.write_text("{ entity(id: $id) { name } }")
    result = mds("graphql", f"@{query}", "--variables", '{"id": "x"}')
    assert result.code == 0
    body = json.loads(daemon.requests[-1].body)
    assert body == {"query": "{ entity(id: $id) { name } }", "variables": {"id": "x"}}
    mds("graphql", "-", stdin=b"{ status }")
    assert json.loads(daemon.requests[-1].body)["query"] == "{ status }"


def test_socket_option_reaches_the_connection(capsys: pytest.CaptureFixture[str]) -> None:
    from mds.cli import main
    from mds.client import Client

    asked: list[Path | None] = []

    def connect(target: Target) -> Client:
        asked.append(target.socket)
        return Client(app=FakeDaemon({"/v1/status": {}}).app)

    main(["--socket", "/a.sock", "status"], connect=connect)
    main(["status", "--socket", "/b.sock"], connect=connect)
    main(["status"], connect=connect)
    assert asked == [Path("/a.sock"), Path("/b.sock"), default_socket_path()]
