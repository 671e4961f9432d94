"""The TCP listener's gate: every route of the app, every way a request can lack the right.

The routes are read from the app itself, and the scope each needs is stated here apart from
``ROUTE_SCOPES``: a new route, or one given too weak a scope, fails these tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mdsd.api import tokens as token_module
from mdsd.api.access import AccessGate, Remote, UnscopedRoute, needed_scope, unscoped
from mdsd.api.failures import FailureLimiter
from mdsd.api.rest import create_app
from mdsd.api.settings import ApiConfig
from mdsd.api.tokens import Scope, TokenChecker, TokenFolder

SCOPES = ("read", "write", "admin")


def expected_scope(method: str, path: str) -> str:
    """The rule, said once: reads (GraphQL's queries among them) need read, feeding events
    (thin ones, or OpenLineage's) needs write, anything else that changes the daemon needs
    admin."""
    if method == "GET" or (method, path) == ("POST", "/v1/graphql"):
        return "read"
    if (method, path) in (("POST", "/v1/events"), ("POST", "/api/v1/lineage")):
        return "write"
    return "admin"


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the daemon's app serves, HEAD aside (it is its GET)."""
    app = create_app(lambda: None)
    found = []
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, route.path))
    return found


ROUTES = app_routes()


class Setup:
    """A gate over the daemon's app (its services never up: a request let through is a
    503 ``starting``, or a 400 for a missing id) and a token of each scope, plus one revoked."""

    def __init__(self, data_dir: Path) -> None:
        self.remote = Remote(ApiConfig(), data_dir, limiter=FailureLimiter(limit=10**6))
        self.gate = AccessGate(create_app(lambda: None), self.remote)
        folder = TokenFolder(data_dir)
        self.tokens = {
            scope: folder.create(f"{scope}-token", Scope.named(scope)) for scope in SCOPES
        }
        self.revoked = folder.create("gone", Scope.ADMIN)
        assert folder.revoke("gone")

    async def ask(self, method: str, path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=self.gate, client=("192.0.2.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="https://mds") as http:
            return await http.request(method, path, headers=headers, content=b"{}")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_the_table_names_exactly_the_apps_routes() -> None:
    assert unscoped(create_app(lambda: None)) == []
    assert len(ROUTES) >= 21
    for method, path in ROUTES:
        needed = needed_scope(method, path)
        assert needed is not None and needed.label == expected_scope(method, path), (method, path)


def test_a_route_without_a_scope_keeps_the_gate_from_being_built(tmp_path: Path) -> None:
    app = create_app(lambda: None)
    app.router.routes.append(
        Route("/v1/new-thing", lambda r: PlainTextResponse("x"), methods=["DELETE"])
    )
    with pytest.raises(UnscopedRoute, match="DELETE /v1/new-thing"):
        AccessGate(app, Remote(ApiConfig(), tmp_path))


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_route_refuses_without_the_right_token(
    setup: Setup, method: str, path: str
) -> None:
    for token in (None, "mds_" + "x" * 43, "not-even-our-kind", setup.revoked):
        answer = await setup.ask(method, path, token)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["error"]["code"] == "unauthorized"
    needed = Scope.named(expected_scope(method, path))
    for label, token in setup.tokens.items():
        answer = await setup.ask(method, path, token)
        if Scope.named(label) < needed:
            assert answer.status_code == 403, (label, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
            assert needed.label in answer.json()["error"]["message"]
        else:  # through the gate, to an app whose daemon is not up (or that wants an id)
            assert answer.json()["error"]["code"] in ("starting", "bad_request"), answer.text


async def test_a_path_no_route_serves_is_a_404_once_authenticated(setup: Setup) -> None:
    assert (await setup.ask("GET", "/v1/nope", None)).status_code == 401
    assert (await setup.ask("GET", "/v1/nope", setup.tokens["read"])).status_code == 404
    assert (await setup.ask("DELETE", "/v1/status", setup.tokens["admin"])).status_code == 405


async def test_a_token_counts_from_the_moment_it_is_made_or_revoked(
    setup: Setup, tmp_path: Path
) -> None:
    folder = TokenFolder(tmp_path)
    late = folder.create("late", Scope.READ)
    assert (await setup.ask("GET", "/v1/status", late)).status_code == 503
    folder.revoke("late")
    assert (await setup.ask("GET", "/v1/status", late)).status_code == 401


async def test_failed_attempts_are_limited_per_address(tmp_path: Path) -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60.0, clock=lambda: now[0])
    remote = Remote(ApiConfig(), tmp_path, limiter=limiter)
    gate = AccessGate(create_app(lambda: None), remote)
    good = TokenFolder(tmp_path).create("good", Scope.READ)

    async def ask(address: str, token: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=gate, client=(address, 1))
        async with httpx.AsyncClient(transport=transport, base_url="https://mds") as http:
            return await http.get("/v1/status", headers={"Authorization": f"Bearer {token}"})

    for _ in range(3):
        assert (await ask("198.51.100.1", "mds_wrong")).status_code == 401
    limited = await ask("198.51.100.1", good)  # even a good token: a guess must learn nothing
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert (await ask("198.51.100.2", good)).status_code == 503  # another address goes on
    status = remote.status()
    assert (status["failed_attempts"], status["rate_limited"], status["limited_addresses"]) == (
        3,
        1,
        1,
    )
    now[0] += 61
    assert (await ask("198.51.100.1", good)).status_code == 503


def test_the_limiter_tracks_a_bounded_number_of_addresses() -> None:
    limiter = FailureLimiter(limit=2, window=60.0, max_addresses=100)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._failures) == 100


def test_tokens_are_stored_only_as_keyed_hashes_in_private_files(tmp_path: Path) -> None:
    folder = TokenFolder(tmp_path)
    token = folder.create("ci", Scope.WRITE)
    assert token.startswith("mds_") and len(token) == 47
    assert set(token[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for path in folder.path.iterdir():
        assert token.encode() not in path.read_bytes()
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert folder.path.stat().st_mode & 0o777 == 0o700
    stored = folder.tokens()[0]
    key = (folder.path / token_module.KEY_FILE).read_bytes()
    assert stored.digest == token_module.digest(key, token)
    assert stored.digest != token_module.digest(b"another key" * 4, token)


def test_tokens_are_made_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        folder = TokenFolder(tmp_path)
        folder.create("a", Scope.READ)
        folder.create("b", Scope.READ)
    finally:
        os.umask(old)
    for path in folder.path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_names_are_checked_and_taken_once(tmp_path: Path) -> None:
    folder = TokenFolder(tmp_path)
    folder.create("alice", Scope.READ)
    with pytest.raises(token_module.TokenError, match="exists"):
        folder.create("alice", Scope.ADMIN)
    with pytest.raises(token_module.TokenError, match="token name"):
        folder.create("../etc", Scope.READ)
    assert not folder.revoke("bob")


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real = token_module.hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(token_module.hmac, "compare_digest", counting)
    yield calls


def test_a_token_is_compared_in_constant_time_with_every_stored_one(
    tmp_path: Path, compared: list[int]
) -> None:
    folder = TokenFolder(tmp_path)
    first = folder.create("first", Scope.READ)
    for n in range(4):
        folder.create(f"other{n}", Scope.READ)
    checker = TokenChecker(tmp_path)
    found = checker.check(first)
    assert found is not None and found.name == "first"
    assert len(compared) == 5  # no early exit at the first, matching one


@pytest.mark.parametrize("name", [token_module.TOKENS_FILE, token_module.KEY_FILE])
def test_a_token_file_open_to_others_lets_nobody_in(tmp_path: Path, name: str) -> None:
    folder = TokenFolder(tmp_path)
    token = folder.create("alice", Scope.READ)
    checker = TokenChecker(tmp_path)
    assert checker.check(token) is not None
    os.chmod(folder.path / name, 0o644)
    os.utime(folder.path / token_module.TOKENS_FILE)  # as an edit would: read again
    assert checker.check(token) is None
    assert checker.problem and "chmod 600" in checker.problem
    with pytest.raises(token_module.TokenError, match="open to other users"):
        TokenFolder(tmp_path).create("bob", Scope.READ)
    os.chmod(folder.path / name, 0o600)
    os.utime(folder.path / token_module.TOKENS_FILE)
    assert checker.check(token) is not None and checker.problem is None


async def test_status_never_holds_a_token_or_a_hash(setup: Setup) -> None:
    for token in setup.tokens.values():
        await setup.ask("GET", "/v1/status", token)
    await setup.ask("GET", "/v1/status", "mds_" + "y" * 43)
    shown = repr(setup.remote.status())
    for stored in TokenFolder(setup.remote.data_dir).tokens():
        assert stored.digest not in shown
    for token in [*setup.tokens.values(), "mds_" + "y" * 43]:
        assert token not in shown and token[4:20] not in shown
    assert "192.0.2.7" not in shown
