"""What can go wrong talking to ``mdsd``, and how an answer is judged: shared by the async
client (``mds.client``) and the socket client of the CLI (``mds.socket_client``), so both
raise the same errors with the same words.

``ApiError``: the daemon said no (``AccessDenied`` when it refused the token or its scope);
``OffContract``: it answered off the shape docs/api.md gives the answer;
``DaemonUnavailable``: nobody answers (``UntrustedDaemon``: another user's process does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson

from mds.wire import JSON, shapes


class ClientError(Exception):
    """Base of the errors a client call can raise."""


class DaemonUnavailable(ClientError):
    """No daemon answers on the socket (not started, restarting, or wrong path)."""


class UntrustedDaemon(DaemonUnavailable):
    """The socket, or the process answering on it, is another user's: nothing was sent."""


class ApiError(ClientError):
    """The daemon answered with an error document."""

    def __init__(self, status: int, code: str, message: str, known_from: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        #: a 404 as of a valid time before the entity's known history: where that begins
        self.known_from = known_from


class AccessDenied(ApiError):
    """A remote daemon refused the token (401), its scope (403), or, after too many
    failed attempts from this address, any attempt for a while (429)."""


class OffContract(ClientError):
    """The daemon answered, but not with the shape docs/api.md gives that answer (a daemon
    of another version, or a bug); the message names the field."""


def decoded(content: bytes) -> Any:
    """An answer's body as JSON; a body that is not JSON (a proxy's page) as ``{}``."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}


def as_document(body: Any) -> JSON:
    """A successful answer as a document: a bare JSON value goes under ``data``."""
    return body if isinstance(body, dict) else {"data": body}


def api_error(status: int, body: Any, text: str) -> ApiError:
    """The daemon's error document (``{"error": {"code", "message"}}``) as an exception;
    an answer without one (a proxy's page) says what it is instead: ``text``, its body or
    else its reason phrase."""
    try:
        error = msgspec.convert(body, shapes.Error).error
    except msgspec.ValidationError:
        return ApiError(status, "error", text)
    return ApiError(status, error.code, error.message, error.known_from)


def checked(doc: JSON, shape: type[shapes.Shape], what: str) -> JSON:
    """``doc`` itself, once it has ``shape``: extra keys stay, for ``--json`` to print."""
    try:
        shapes.check(doc, shape, f"mdsd's answer to {what}")
    except shapes.OffShape as exc:
        raise OffContract(str(exc)) from None
    return doc


def socket_unreachable(socket: Path, exc: BaseException) -> str:
    """Why nothing answered on ``socket``, and what to do: start mdsd, or name the socket
    it uses."""
    if socket.exists() and not socket.is_socket():
        reason = "it is a directory" if socket.is_dir() else "it is not a socket"
    else:
        reason = str(exc)
    return (
        f"mdsd is not reachable at {socket} ({reason}); start it with "
        "`mdsd --config PATH`, or name the socket it listens on with --socket or MDS_SOCKET"
    )
