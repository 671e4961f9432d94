"""Exit codes (0 ok, 1 not found, 2 bad usage, 3 daemon unreachable or failing, 5 events
refused, 124 wait timed out; 4, access denied, in test_cli_remote) and their one-line
reasons on stderr, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_mdsd import BAD, BOOM, INSTANCE, MISSING, MODEL, NOT_IDLE, FakeDaemon, Run

from mds.cli import (
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    build_parser,
    main,
)
from mds.cli.introspect import commands

#: the commands that read the graph, so take --as-of
READS = sorted(
    view.name
    for view in commands(build_parser())
    if any(p.flags == ("--as-of",) for p in view.params)
)


def _argv(name: str, entity: str) -> list[str]:
    argv = {"path": ["path", entity, MODEL], "search": ["search", entity]}.get(name)
    return argv or [name, entity]


@pytest.mark.parametrize(
    "name",
    [
        "show",
        "lineage",
        "impact",
        "usage",
        "deps",
        "neighbors",
        "path",
        "similar",
        "suggest",
        "history",
    ],
)
def test_unknown_id_is_1_with_the_daemons_reason(mds: Run, name: str) -> None:
    result = mds(*_argv(name, MISSING))
    assert result.code == EXIT_NOT_FOUND
    assert result.out == ""
    assert result.err == f"mds: no entity {MISSING}\n"


def test_rejected_query_is_2(mds: Run) -> None:
    result = mds("search", BAD, "--json")
    assert result.code == EXIT_USAGE
    assert result.err == f"mds: bad query: {BAD}\n"
    assert result.out == ""


def test_daemon_failure_is_3(mds: Run) -> None:
    result = mds("show", BOOM)
    assert result.code == EXIT_UNAVAILABLE
    assert result.err == "mds: mdsd failed (500 internal): the store caught fire\n"


def test_daemon_still_starting_is_3(mds: Run, daemon: FakeDaemon) -> None:
    daemon.documents["/v1/status"] = {"error": {"code": "starting", "message": "opening store"}}
    daemon.status = 503
    result = mds("status")
    assert result.code == EXIT_UNAVAILABLE
    assert result.err == "mds: mdsd is not ready yet (opening store); try again shortly\n"


@pytest.mark.parametrize("name", READS)
@pytest.mark.parametrize("when", ["yesterday", "2025-13-01", "3y", "tx:"])
def test_malformed_as_of_is_2_before_asking(
    mds: Run, daemon: FakeDaemon, name: str, when: str
) -> None:
    result = mds(*_argv(name, INSTANCE), "--as-of", when)
    assert result.code == EXIT_USAGE
    assert "argument --as-of" in result.err
    assert daemon.requests == []


@pytest.mark.parametrize("name", READS)
def test_known_at_is_on_every_read_and_malformed_is_2_before_asking(
    mds: Run, daemon: FakeDaemon, name: str
) -> None:
    result = mds(*_argv(name, INSTANCE), "--known-at", "yesterday")
    assert result.code == EXIT_USAGE
    assert "argument --known-at" in result.err and "bad known_at 'yesterday'" in result.err
    assert daemon.requests == []


def test_a_transaction_as_of_with_known_at_is_2_before_asking(mds: Run, daemon: FakeDaemon) -> None:
    """``--as-of tx:N`` already names the system time: a ``--known-at`` beside it is a
    contradiction, said before the daemon is asked."""
    result = mds("show", INSTANCE, "--as-of", "tx:4", "--known-at", "1h")
    assert result.code == EXIT_USAGE
    assert "already names the system time" in result.err
    assert daemon.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        [],
        ["show"],
        ["show", MODEL, "--bogus"],
        ["lineage", MODEL, "--direction", "sideways"],
        ["lineage", MODEL, "--types", "reads,bogus"],
        ["search", "x", "--type", "spaceship"],
        ["search", "x", "--limit", "0"],
        ["wait"],
        ["wait", "--idle", "--timeout", "soon"],
        ["wait", "--idle", "--timeout", "-1"],
        ["wait", "--idle", "--timeout", "5x"],
        ["lineage", MODEL, "--depth", "-1"],
        ["redrive"],
        ["redrive", "1", "--all"],
        ["completion", "powershell"],
    ],
)
def test_bad_usage_is_2(mds: Run, daemon: FakeDaemon, argv: list[str]) -> None:
    result = mds(*argv)
    assert result.code == EXIT_USAGE
    assert result.err.strip()
    assert daemon.requests == []


def test_unreadable_input_is_2(mds: Run, tmp_path: Path) -> None:
    result = mds("ingest", str(tmp_path / "nope.jsonl"))
    assert result.code == EXIT_USAGE
    assert result.err == f"mds: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory\n"


def test_bad_graphql_variables_are_2(mds: Run) -> None:
    assert mds("graphql", "{ x }", "--variables", "[1]").code == EXIT_USAGE
    assert mds("graphql", "{ x }", "--variables", "{nope").code == EXIT_USAGE


def test_graphql_errors_are_2_with_the_result_still_printed(mds: Run) -> None:
    result = mds("graphql", "{ errors }", "--json")
    assert result.code == EXIT_USAGE
    assert result.json["errors"]
    assert result.err == "mds: graphql: Cannot query field 'x'\n"


def test_graphql_asking_for_a_missing_id_is_1(mds: Run) -> None:
    """Contract 2.2: 1 when the thing asked for does not exist, in GraphQL too."""
    result = mds("graphql", f'{{ entity(id: "{MISSING}") {{ name }} }}', "--json")
    assert result.code == EXIT_NOT_FOUND
    assert result.json["data"] == {"entity": None}
    assert result.err == f"mds: graphql: no entity {MISSING!r} now\n"


@pytest.mark.parametrize("as_json", [False, True])
def test_wait_timing_out_has_its_own_code(mds: Run, as_json: bool) -> None:
    result = mds("wait", "--idle", "--timeout", "0", *(["--json"] if as_json else []))
    assert result.code == EXIT_TIMEOUT
    assert result.err == (
        "mds: still busy after 0s "
        "(3 pending, a reconciliation pass running, search indexed to tx 7 of 9)\n"
    )
    if as_json:
        assert result.json == NOT_IDLE


def test_refused_events_exit_5_unless_allowed(mds: Run) -> None:
    assert mds("ingest", "-", stdin=b"{}").code == EXIT_REJECTED
    assert mds("ingest", "-", "--allow-rejects", stdin=b"{}").code == 0


@pytest.mark.parametrize("daemon", ["empty"], indirect=True)
def test_ingest_with_nothing_refused_is_0(mds: Run) -> None:
    assert mds("ingest", "-", stdin=b"{}").code == 0


def test_help_is_0(mds: Run) -> None:
    assert mds("--help").code == 0
    assert mds("show", "--help").code == 0


def test_unreachable_daemon_is_3_with_how_to_start_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = tmp_path / "mdsd.sock"
    assert main(["status", "--socket", str(socket)]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.startswith(f"mds: mdsd is not reachable at {socket} (")
    assert "mdsd --config PATH" in err
    assert "--socket or MDS_SOCKET" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_a_socket_path_that_is_no_socket_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A directory or file answered "Connection refused", as if a daemon had stopped."""
    path = tmp_path / "mdsd.sock"
    path.mkdir() if kind == "directory" else path.write_text("")
    assert main(["status", "--socket", str(path)]) == EXIT_UNAVAILABLE
    reason = "it is a directory" if kind == "directory" else "it is not a socket"
    assert capsys.readouterr().err.startswith(f"mds: mdsd is not reachable at {path} ({reason});")


def test_mds_socket_environment_variable_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_SOCKET", str(tmp_path / "env.sock"))
    assert main(["show", MODEL]) == EXIT_UNAVAILABLE
    assert str(tmp_path / "env.sock") in capsys.readouterr().err


@pytest.mark.parametrize("json", [False, True])
def test_an_answer_off_its_shape_is_3_naming_the_field(
    mds: Run, daemon: FakeDaemon, json: bool
) -> None:
    del daemon.documents["/v1/entity"]["status"]
    result = mds("show", MODEL, *(["--json"] if json else []))
    assert result.code == EXIT_UNAVAILABLE
    assert result.out == ""
    assert "GET /v1/entity" in result.err and "`status`" in result.err
