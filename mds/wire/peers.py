"""Who is at the other end of the daemon's Unix socket: the rule both sides apply.

The daemon serves only its own user (and root); a client talks only to a daemon of its own
user (or root). Each side asks the kernel (``SO_PEERCRED``), not the other side, so a process
of another user can neither read the graph nor pose as the daemon.
"""

from __future__ import annotations

import socket
import struct

_UCRED = struct.Struct("3i")  # pid, uid, gid


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux), else None."""
    if sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return int(_UCRED.unpack(raw)[1])


def allowed_peer(uid: int | None, own_uid: int) -> bool:
    """Only the same user (or root) is trusted; non-Unix peers pass (over TCP every
    request carries a token instead)."""
    return uid is None or uid in (own_uid, 0)
