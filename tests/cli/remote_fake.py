"""The fake mdsd as a team's daemon: over TLS (a test CA from ``trustme``) on a loopback TCP
port, asking every request for ``Authorization: Bearer TOKEN`` with the rule of
docs/api.md: ``read`` reads, ``write`` also posts events, ``admin`` also reconciles and
redrives; 401 with ``WWW-Authenticate: Bearer`` for a missing or unknown token, 403 for a
scope too low. What the client sends is recorded, to check it sent (or kept) its token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import uvicorn
from fake_mdsd import FakeDaemon

READ, WRITE, ADMIN = "mds_read-token", "mds_write-token", "mds_admin-token"
TOKENS = {READ: "read", WRITE: "write", ADMIN: "admin"}
RANK = {"read": 0, "write": 1, "admin": 2}
ADMIN_PATHS = {"/v1/reconcile", "/v1/dead-letters/redrive"}


def needed_scope(method: str, path: str) -> str:
    if path in ADMIN_PATHS:
        return "admin"
    if method == "POST" and path != "/v1/graphql":
        return "write"
    return "read"


@dataclass
class Guarded:
    """An ASGI app in front of ``inner`` that checks bearer tokens."""

    inner: Any
    authorizations: list[str | None] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        sent = dict(scope["headers"]).get(b"authorization")
        self.authorizations.append(sent.decode() if sent is not None else None)
        token = sent.decode().removeprefix("Bearer ") if sent else None
        granted = TOKENS.get(token or "")
        needed = needed_scope(scope["method"], scope["path"])
        if granted is None:
            return await _refuse(send, 401, "unauthorized", "missing or unknown token")
        if RANK[granted] < RANK[needed]:
            message = f"this needs the {needed} scope; the token has {granted}"
            return await _refuse(send, 403, "forbidden", message)
        await self.inner(scope, receive, send)


async def _refuse(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class RemoteDaemon:
    url: str
    cacert: Path
    app: Guarded
    daemon: FakeDaemon


@contextmanager
def remote_daemon(daemon: FakeDaemon, folder: Path) -> Iterator[RemoteDaemon]:
    """``daemon`` served over TLS on 127.0.0.1, with a certificate for 127.0.0.1 and
    localhost signed by a CA of its own (``cacert``)."""
    ca = trustme.CA()
    cacert, chain = folder / "ca.pem", folder / "server.pem"
    ca.cert_pem.write_to_path(str(cacert))
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(chain))
    app = Guarded(daemon.app)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(chain),
        ssl_keyfile=str(chain),
        log_level="error",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RemoteDaemon(f"https://127.0.0.1:{port}", cacert, app, daemon)
    finally:
        server.should_exit = True
        thread.join(5)
