"""``mds`` against a team's daemon: HTTPS with a private CA, bearer tokens and scopes, the
token's file and its mode, contexts, and errors that name the target and say why."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from fake_mdsd import FULL, FakeDaemon, Result
from remote_fake import ADMIN, READ, WRITE, RemoteDaemon, remote_daemon

from mds.cli import EXIT_DENIED, EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, main
from mds.contexts import contexts_path
from mds.target import TargetError, resolve


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[RemoteDaemon]:
    with remote_daemon(FakeDaemon(copy.deepcopy(FULL)), tmp_path) as served:
        yield served


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``mds ARGV...`` in-process, connecting as it does for a user."""

    def mds(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)

    return mds


def token_file(folder: Path, token: str, mode: int = 0o600, name: str = "token") -> Path:
    path = folder / name
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def test_reads_over_tls_with_a_private_ca_and_a_token(
    run, remote: RemoteDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_TOKEN", READ)
    result = run("--server", remote.url, "--cacert", str(remote.cacert), "status", "-o", "json")
    assert result.code == EXIT_OK, result.err
    assert result.json == FULL["/v1/status"]
    assert remote.app.authorizations == [f"Bearer {READ}"]


def test_a_read_token_is_refused_every_write_and_admin_call(
    run, remote: RemoteDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_TOKEN", READ)
    target = ("--server", remote.url, "--cacert", str(remote.cacert))
    events = tmp_path / "events.json"
    events.write_text('{"event_type": "model_updated", "model_id": "m"}')
    for argv in (("ingest", str(events)), ("reconcile",), ("redrive", "--all")):
        result = run(*target, *argv)
        assert result.code == EXIT_DENIED, argv
        assert result.err.startswith(f"mds: mdsd at {remote.url}: the token's scope does not")
        assert "403 forbidden" in result.err
    monkeypatch.setenv("MDS_TOKEN", WRITE)
    assert run(*target, "ingest", "--allow-rejects", str(events)).code == EXIT_OK
    assert run(*target, "reconcile").code == EXIT_DENIED
    monkeypatch.setenv("MDS_TOKEN", ADMIN)
    assert run(*target, "reconcile").code == EXIT_OK


@pytest.mark.parametrize("token", [None, "mds_not-a-token"])
def test_no_token_or_a_bad_one_is_4_and_says_so(
    run, remote: RemoteDaemon, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    if token:
        monkeypatch.setenv("MDS_TOKEN", token)
    result = run("--server", remote.url, "--cacert", str(remote.cacert), "status")
    assert result.code == EXIT_DENIED
    sent = "the token" if token else "a request without a token"
    assert result.err.startswith(f"mds: mdsd at {remote.url}: it refused {sent}; set MDS_TOKEN")
    assert "(401 unauthorized: missing or unknown token)" in result.err
    assert token is None or token not in result.err + result.out


def test_an_unknown_ca_fails_tls_verification_and_nothing_is_sent(
    run, remote: RemoteDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_TOKEN", READ)
    result = run("--server", remote.url, "status")
    assert result.code == EXIT_UNAVAILABLE
    assert result.err.startswith(f"mds: mdsd at {remote.url} is not reachable: TLS verification")
    assert "--cacert" in result.err
    assert remote.app.authorizations == []  # the token never left


def test_a_wrong_ca_file_is_named_as_not_the_signer(
    run, remote: RemoteDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("MDS_TOKEN", READ)
    result = run("--server", remote.url, "--cacert", str(other), "status")
    assert result.code == EXIT_UNAVAILABLE
    assert f"the CA file {other} did not sign the daemon's certificate" in result.err
    assert remote.app.authorizations == []


def test_nothing_listening_is_connection_refused(run, remote: RemoteDaemon) -> None:
    with socket.socket() as probe:  # a port free now: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("--server", f"https://127.0.0.1:{port}", "status")
    assert result.code == EXIT_UNAVAILABLE
    assert result.err == (
        f"mds: mdsd at https://127.0.0.1:{port} is not reachable: "
        "connection refused: nothing listens on that port\n"
    )


def test_plain_http_is_for_loopback_only(run) -> None:
    result = run("--server", "http://mds.example.com:8080", "status")
    assert result.code == EXIT_USAGE
    assert "plain http is for a loopback address only" in result.err


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_token_file_others_may_read_is_refused(
    run, remote: RemoteDaemon, tmp_path: Path, mode: int
) -> None:
    path = token_file(tmp_path, READ, mode)
    result = run(
        "--server", remote.url, "--cacert", str(remote.cacert), "--token-file", str(path), "status"
    )
    assert result.code == EXIT_USAGE
    assert result.err == (
        f"mds: token file {path} is open to others (mode {mode:04o}); "
        f"make it yours alone: chmod 600 {path}\n"
    )
    assert remote.app.authorizations == []


def test_a_token_file_of_ones_own_is_read(
    run, remote: RemoteDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_TOKEN", "mds_the-environment-loses")
    path = token_file(tmp_path, WRITE)
    target = ("--server", remote.url, "--cacert", str(remote.cacert), "--token-file", str(path))
    assert run(*target, "status").code == EXIT_OK
    assert remote.app.authorizations == [f"Bearer {WRITE}"]


def test_contexts_add_use_ls_rm(
    run, remote: RemoteDaemon, tmp_path: Path, own_config: Path
) -> None:
    path = token_file(tmp_path, READ)
    added = run(
        "context", "add", "team", "--server", remote.url, "--token-file", str(path),
        "--cacert", str(remote.cacert),
    )  # fmt: skip
    assert added.code == EXIT_OK, added.err
    stored = own_config / "mds" / "contexts.toml"
    assert stored == contexts_path()
    assert stored.stat().st_mode & 0o777 == 0o600
    assert READ not in stored.read_text()  # the path to the token, never the token
    assert run("status").code == EXIT_UNAVAILABLE  # not current yet: the local socket
    assert run("context", "use", "team").out.startswith("now using context team")
    assert run("status", "-o", "json").json == FULL["/v1/status"]
    listed = run("context", "ls")
    assert listed.out.splitlines()[2].startswith(f"*        team     {remote.url}")
    assert run("context", "ls", "-o", "ids").out == "default\nteam\n"
    assert run("-o", "json", "context", "ls").json["current"] == "team"
    assert run("context", "use", "nowhere").code == EXIT_NOT_FOUND
    assert run("context", "rm", "team").code == EXIT_OK
    assert run("context", "ls", "-o", "json").json["current"] == "default"
    assert run("context", "rm", "team").code == EXIT_NOT_FOUND


def test_context_add_refuses_an_open_token_file_and_the_default_name(run, tmp_path: Path) -> None:
    open_file = token_file(tmp_path, READ, 0o644)
    result = run(
        "context", "add", "team", "--server", "https://x:1", "--token-file", str(open_file)
    )
    assert result.code == EXIT_USAGE
    assert "chmod 600" in result.err
    mine = token_file(tmp_path, READ, name="mine")
    result = run("context", "add", "default", "--server", "https://x:1", "--token-file", str(mine))
    assert result.code == EXIT_USAGE
    assert not contexts_path().exists()


def test_precedence_flags_then_environment_then_context_then_socket(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = token_file(tmp_path, READ)
    for name, server in (("a", "https://a.example:1"), ("b", "https://b.example:1")):
        argv = ("context", "add", name, "--server", server, "--token-file", str(mine))
        assert run(*argv).code == EXIT_OK
    assert resolve().socket is not None  # no current context: the local socket
    run("context", "use", "a")
    assert (resolve().server, resolve().context, resolve().token) == (
        "https://a.example:1",
        "a",
        READ,
    )
    assert resolve(context="b").server == "https://b.example:1"
    monkeypatch.setenv("MDS_SOCKET", str(tmp_path / "env.sock"))
    assert resolve().socket == tmp_path / "env.sock"
    monkeypatch.setenv("MDS_SERVER", "https://env.example:1")
    from_env = resolve()
    # a context's token goes to its own server only
    assert (from_env.server, from_env.token, from_env.context) == (
        "https://env.example:1",
        None,
        None,
    )
    assert resolve(server="https://flag.example:2").server == "https://flag.example:2"
    assert resolve(socket="/flag.sock").socket == Path("/flag.sock")
    with pytest.raises(TargetError, match="name one target"):
        resolve(server="https://x:1", socket="/y.sock")


def test_the_token_is_never_in_a_target_s_repr(tmp_path: Path) -> None:
    target = resolve(server="https://x.example:1", token_file=token_file(tmp_path, ADMIN))
    assert target.token == ADMIN
    assert ADMIN not in repr(target) and ADMIN not in str(target)


def test_watch_follows_the_change_stream_over_tls(
    run, remote: RemoteDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDS_TOKEN", READ)
    target = ("--server", remote.url, "--cacert", str(remote.cacert))
    result = run(*target, "watch", "--count", "2", "-o", "jsonl")
    assert result.code == EXIT_OK, result.err
    assert [line.split(",")[0] for line in result.out.splitlines()] == ['{"tx":119', '{"tx":120']
    monkeypatch.delenv("MDS_TOKEN")
    assert run(*target, "watch").code == EXIT_DENIED


def test_the_unix_socket_gets_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDS_TOKEN", READ)
    target = resolve(socket=tmp_path / "mdsd.sock")
    assert (target.socket, target.token) == (tmp_path / "mdsd.sock", None)
