"""Talking only to a daemon of one's own user: checked before a byte is sent.

Under umask 000 another user replaced the daemon's socket folder with a fake daemon, and
``mds ingest`` printed "accepted 1" and exited 0 while the real daemon never saw the
event. So the client checks, on every connection, that the socket file belongs to its
user (or root) and that the process answering is of its user (or root), by the kernel's
word (``SO_PEERCRED``); anything else is ``ForeignSocket``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from mds.wire.peers import allowed_peer, peer_uid


class ForeignSocket(Exception):
    """The socket, or the process answering on it, belongs to another user."""


def check_socket_owner(path: str) -> None:
    """Raise ``ForeignSocket`` if the file at ``path`` is neither this user's nor root's.
    A path that does not exist is left to the connection to report."""
    try:
        owner = os.stat(path).st_uid
    except FileNotFoundError:
        return
    if not allowed_peer(owner, os.getuid()):
        raise ForeignSocket(
            f"{path} belongs to uid {owner}, not to you (uid {os.getuid()}) or root: it is not "
            "your mdsd, so nothing was sent; check who made it, and which socket to use"
        )


def check_peer(sock: socket.socket | None, path: str) -> None:
    """Raise ``ForeignSocket`` if the process at the other end of ``sock`` runs as another
    user (the socket file can be ours while another user's process holds it)."""
    uid = peer_uid(sock) if sock is not None else None
    if not allowed_peer(uid, os.getuid()):
        raise ForeignSocket(
            f"the process answering on {path} runs as uid {uid}, not as you "
            f"(uid {os.getuid()}) or root: it is not your mdsd, so nothing was sent"
        )


class PeerCheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the owner and peer checks on Unix sockets."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        check_socket_owner(path)
        stream = await self.inner.connect_unix_socket(path, timeout, socket_options)
        try:
            check_peer(stream.get_extra_info("socket"), path)
        except ForeignSocket:
            await stream.aclose()
            raise
        return stream

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def checked_unix_transport(path: str) -> httpx.AsyncHTTPTransport:
    """An httpx transport on the Unix socket ``path`` that checks whom it talks to."""
    transport = httpx.AsyncHTTPTransport(uds=path)
    # httpx takes no network backend of its own; its connection pool (httpcore) does
    pool = transport._pool
    pool._network_backend = PeerCheckedBackend(pool._network_backend)
    return transport
