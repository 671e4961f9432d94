"""Who may do what over TCP: a bearer token on every request, its scope checked per route.

The Unix socket needs no token (only the daemon's user reaches it); the TCP listener serves
the same app behind ``AccessGate``. ``ROUTE_SCOPES`` names the scope of every route and
method, and the gate refuses to wrap an app with a route it does not name, so a route
added without a scope stops the daemon from starting instead of being open to any token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mdsd.api.failures import FailureLimiter
from mdsd.api.rest import error
from mdsd.api.settings import ApiConfig
from mdsd.api.tokens import Scope as TokenScope
from mdsd.api.tokens import TokenChecker

log = logging.getLogger(__name__)

READ, WRITE, ADMIN = TokenScope.READ, TokenScope.WRITE, TokenScope.ADMIN

#: path -> method -> the least scope that may call it (a HEAD is its GET)
ROUTE_SCOPES: dict[str, dict[str, TokenScope]] = {
    "/v1/events": {"POST": WRITE},
    # OpenLineage's HTTP transport posts here: pipelines feed the graph, as with events
    "/api/v1/lineage": {"POST": WRITE},
    "/v1/status": {"GET": READ},
    "/v1/search": {"GET": READ},
    "/v1/owners/search": {"GET": READ},
    "/v1/entity": {"GET": READ},
    "/v1/neighbors": {"GET": READ},
    "/v1/lineage": {"GET": READ},
    "/v1/impact": {"GET": READ},
    "/v1/dependencies": {"GET": READ},
    "/v1/usage": {"GET": READ},
    "/v1/path": {"GET": READ},
    "/v1/history": {"GET": READ},
    "/v1/dead-letters": {"GET": READ},
    "/v1/dead-letters/redrive": {"POST": ADMIN},
    "/v1/reconcile": {"POST": ADMIN},
    # writes a copy of everything, tokens included, where the daemon's user can write
    "/v1/backup": {"POST": ADMIN},
    "/v1/wait-idle": {"GET": READ},
    "/v1/similar": {"GET": READ},
    "/v1/suggestions": {"GET": READ},
    "/v1/quality": {"GET": READ},
    "/v1/changes": {"GET": READ},
    # queries only: the schema has no mutations
    "/v1/graphql": {"POST": READ},
}


class UnscopedRoute(RuntimeError):
    """The app serves a route (or a method of one) that ``ROUTE_SCOPES`` does not name."""


def unscoped(app: Starlette) -> list[str]:
    """``METHOD PATH`` of each route of ``app`` with no scope in ``ROUTE_SCOPES``."""
    missing = []
    for route in app.routes:
        if not isinstance(route, Route):  # a mount or websocket would bypass the table
            missing.append(f"{type(route).__name__} {getattr(route, 'path', route)!r}")
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method not in ROUTE_SCOPES.get(route.path, {}):
                missing.append(f"{method} {route.path}")
    return missing


def needed_scope(method: str, path: str) -> TokenScope | None:
    """The scope ``method path`` needs; None for what no route serves (a 404 or 405)."""
    return ROUTE_SCOPES.get(path, {}).get("GET" if method == "HEAD" else method)


@dataclass
class Remote:
    """The TCP side's state: the tokens, the failures per address, what ``mds status`` shows."""

    config: ApiConfig
    data_dir: Path
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    #: where the listener is bound (its real port when ``listen`` asked for 0)
    listening: str | None = None
    failed_attempts: int = 0
    rate_limited: int = 0

    def __post_init__(self) -> None:
        self.tokens = TokenChecker(self.data_dir)

    def status(self) -> dict[str, Any]:
        """Counts and settings only: never a token, a hash or an address."""
        return {
            "listen": self.listening,
            "tls": self.config.tls,
            "tokens": len(self.tokens.current()),
            "failed_attempts": self.failed_attempts,
            "rate_limited": self.rate_limited,
            "limited_addresses": self.limiter.limited,
            "token_file_problem": self.tokens.problem,
        }


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" else None
    return None


class AccessGate:
    """ASGI middleware: 429 for a limited address, 401 without a valid token, 403 for a
    scope below the route's, else the app."""

    def __init__(self, app: Starlette, remote: Remote) -> None:
        missing = unscoped(app)
        if missing:
            raise UnscopedRoute(
                "routes with no scope in mdsd.api.access.ROUTE_SCOPES: " + ", ".join(missing)
            )
        self.app: ASGIApp = app
        self.remote = remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the server's own, no request in it
            await self.app(scope, receive, send)
            return
        remote = self.remote
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = remote.limiter.retry_after(address)
        if wait:
            remote.rate_limited += 1
            response = error(
                429, "too_many_requests", "too many failed attempts from this address: wait"
            )
            response.headers["Retry-After"] = str(max(1, round(wait)))
            await response(scope, receive, send)
            return
        presented = _bearer(scope)
        token = remote.tokens.check(presented) if presented else None
        if token is None:
            remote.failed_attempts += 1
            if remote.limiter.failed(address):
                log.warning(
                    "%s sent %d requests without a valid token within %.0fs: refused for a while",
                    address,
                    remote.limiter.limit,
                    remote.limiter.window,
                )
            reason = "the token is unknown or revoked" if presented else "no bearer token"
            response = error(
                401,
                "unauthorized",
                f"{reason}: send Authorization: Bearer TOKEN (made with `mdsd token create`)",
            )
            response.headers["WWW-Authenticate"] = (
                'Bearer realm="mds", error="invalid_token"' if presented else 'Bearer realm="mds"'
            )
            await response(scope, receive, send)
            return
        needed = needed_scope(scope["method"], scope["path"])
        if needed is not None and token.scope < needed:
            response = error(
                403,
                "forbidden",
                f"token {token.name!r} has scope {token.scope.label}; "
                f"{scope['method']} {scope['path']} needs {needed.label}",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
