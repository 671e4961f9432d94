"""Serving the API on the daemon's Unix socket (and, only if configured, loopback TCP).

The socket lives in a 0700 directory with mode 0600, and every connection's peer uid is
checked (SO_PEERCRED): another local user cannot read the graph or feed it events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_UCRED = struct.Struct("3i")  # pid, uid, gid
#: sun_path's size on Linux, the terminating NUL included
MAX_SOCKET_PATH = 108


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux), else None."""
    if sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return int(_UCRED.unpack(raw)[1])


def allowed_peer(uid: int | None, own_uid: int) -> bool:
    """Only the daemon's own user (or root) may talk to it; non-Unix peers pass (TCP is opt-in)."""
    return uid is None or uid in (own_uid, 0)


class PeerCheckedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections from other users before any request."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if not allowed_peer(uid, os.getuid()):
            log.warning("refused a connection from uid %s", uid)
            transport.close()
            return
        super().connection_made(transport)


def bind_unix_socket(path: Path) -> socket.socket:
    """Bind ``path`` with mode 0600 inside a 0700 directory, replacing a stale socket."""
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


def build_server(app: ASGIApp, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http=PeerCheckedProtocol,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return DaemonServer(config)


def bind_tcp(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: keep-alive answers must not wait on delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock
