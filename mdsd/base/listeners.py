"""Serving the API on the daemon's Unix socket (and, only if configured, on TCP).

The socket lives in a 0700 directory with mode 0600, and every connection's peer uid is
checked (SO_PEERCRED): another local user cannot read the graph or feed it events. TCP
(``[api] listen``) has no peer to check; there every request carries a token
(``mdsd.api.access``), over TLS unless it stays on loopback. Every listener (the socket,
TCP, the MLflow webhook) closes connections that stall before their request is in, so idle
or half-sent requests cannot pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mds.wire.peers import allowed_peer, peer_uid
from mdsd.base.private import check_private_dir

log = logging.getLogger(__name__)

#: sun_path's size on Linux, the terminating NUL included
MAX_SOCKET_PATH = 108
#: a request's headers must be complete this long after its first byte (or the connection's
#: start): 3,000 connections that sent half their headers held 3,033 fds, for good
HEADER_TIMEOUT_SECONDS = 10.0
#: a request body may pause this long between pieces while the app waits for more
BODY_IDLE_SECONDS = 30.0
#: a refused peer is logged at most once per uid in this long, with a count, never a trace
#: (3,000 refused attempts wrote 3 MB of tracebacks in 1.1 s)
REFUSAL_LOG_SECONDS = 60.0


class RefusalLog:
    """Refused connections, logged once per peer uid per ``REFUSAL_LOG_SECONDS``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._since: dict[int | None, tuple[float, int]] = {}  # uid -> (logged at, refused since)

    def refused(self, uid: int | None) -> None:
        now = self.clock()
        logged_at, count = self._since.get(uid, (-REFUSAL_LOG_SECONDS, 0))
        if now - logged_at < REFUSAL_LOG_SECONDS:
            self._since[uid] = (logged_at, count + 1)
            return
        more = f" (and {count} more since the last notice)" if count else ""
        log.warning(
            "refused a connection from uid %s: only the daemon's user (uid %d) and root may use it%s",
            uid,
            os.getuid(),
            more,
        )
        self._since[uid] = (now, 0)


REFUSALS = RefusalLog()


class PeerCheckedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections from other users before any request,
    and connections that do not finish their headers, or pause mid-body, in time."""

    _refused = False
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if not allowed_peer(uid, os.getuid()):
            self._refused = True
            REFUSALS.refused(uid)
            transport.abort()
            return
        super().connection_made(transport)
        self._arm(HEADER_TIMEOUT_SECONDS, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:  # uvicorn's state was never set up: nothing to tear down
            return
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(HEADER_TIMEOUT_SECONDS, "headers")

    def on_headers_complete(self) -> None:
        self._arm(BODY_IDLE_SECONDS, "body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(BODY_IDLE_SECONDS, "body")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, seconds, waiting_for)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, seconds: float, waiting_for: str) -> None:
        self._deadline = None
        if waiting_for == "body" and self.flow.read_paused:
            self._arm(seconds, waiting_for)  # the app is not reading yet: the client waits on us
            return
        log.debug("closed a connection that sent no %s for %.0fs", waiting_for, seconds)
        self.transport.close()


def bind_unix_socket(path: Path) -> socket.socket:
    """Bind ``path`` with mode 0600 inside a 0700 directory, replacing a stale socket.

    A socket dir another user can write to is refused (``NotPrivate``): they could swap the
    socket for their own, and the daemon's clients would talk to it."""
    if path.parent.exists():
        check_private_dir(path.parent, "socket dir")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody answers: left over from a crash
        else:
            raise RuntimeError(f"another mdsd is already serving {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        hint = ""
        if len(os.fsencode(path)) >= MAX_SOCKET_PATH:
            hint = (
                f" (a Unix socket path is at most {MAX_SOCKET_PATH - 1} bytes: "
                "set a shorter [daemon] socket)"
            )
        raise RuntimeError(f"cannot listen on {path}: {exc.strerror or exc}{hint}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


class DaemonServer(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGINT/SIGTERM and shuts
    down the server, then its stores, in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


#: how long uvicorn keeps an idle connection of the socket open (its default)
KEEP_ALIVE_SECONDS = 5
#: ... and a TCP one: a new TLS connection costs a handshake (~2 ms of both ends' CPU),
#: and a remote client (the explorer polling status, a script between calls) pauses longer
#: than 5 s between requests
TCP_KEEP_ALIVE_SECONDS = 75


def build_server(
    app: ASGIApp,
    *,
    log_level: str = "warning",
    tls: tuple[str, str] | None = None,
    keep_alive: int = KEEP_ALIVE_SECONDS,
) -> uvicorn.Server:
    """uvicorn on sockets given to ``serve``; ``tls``: (certificate, key) PEM files to
    serve HTTPS with (checked by ``check_tls`` first, for a message naming the key)."""
    config = uvicorn.Config(
        app,
        http=PeerCheckedProtocol,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=keep_alive,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    return DaemonServer(config)


def check_tls(cert: str, key: str) -> None:
    """``RuntimeError`` saying what is wrong unless ``cert`` and ``key`` are a PEM
    certificate chain and its key that a server can use."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:  # before OSError, which it is a kind of
        raise RuntimeError(
            f"cannot use api.tls_cert {cert} with api.tls_key {key}: {exc.reason or exc} "
            "(both must be PEM, the key that of the certificate)"
        ) from exc
    except OSError as exc:
        raise RuntimeError(
            f"cannot use api.tls_cert {cert} with api.tls_key {key}: "
            f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}"
        ) from exc


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host`` (an address or a name) and ``port`` (0: any)."""
    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: keep-alive answers must not wait on delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(where)
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock
