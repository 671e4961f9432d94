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
