"""The CLI's client on the daemon's Unix socket: one HTTP/1.1 request a connection.

``mds show`` spent 249 ms where curl on the socket takes 8: most of it importing httpx
(56-68 ms) and asyncio (31-43 ms) to send one request and read one answer; even the
standard library's ``http.client`` costs ~20 ms more to import (the email parser, ssl) than
the few lines below, which is all a request with ``Connection: close`` to our own daemon
needs. This client asks the same questions (``mds.calls.Api``), with the same checks of
whom it talks to (``mds.peercheck``), of the answer's shape and the same errors
(``mds.errors``). Streams, inputs sent in parts and a team's daemon over HTTPS keep the
async client (``mds.client``).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlencode

from mds.calls import Api, Call
from mds.errors import (
    DaemonUnavailable,
    UntrustedDaemon,
    api_error,
    as_document,
    checked,
    decoded,
    socket_unreachable,
)
from mds.peercheck import ForeignSocket, check_peer, check_socket_owner
from mds.target import Target
from mds.wire import JSON


class BrokenAnswer(Exception):
    """What came back is not an HTTP answer (cut short, or not HTTP at all)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    content: bytes


def request_bytes(call: Call) -> bytes:
    """``call`` as an HTTP/1.1 request that asks the daemon to close after answering."""
    query = call.query
    target = quote(call.path) + (f"?{urlencode(query)}" if query else "")
    body = call.content
    headers = ["Host: mds", "Connection: close", "Accept: application/json"]
    if body is None and call.json_body is not None:
        body = json.dumps(call.json_body).encode()
        headers.append("Content-Type: application/json")
    if body is not None:
        headers.append(f"Content-Length: {len(body)}")
    head = f"{call.method} {target} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in headers)
    return head.encode("latin-1") + b"\r\n" + (body or b"")


def _unchunked(body: bytes) -> bytes:
    """A ``Transfer-Encoding: chunked`` body, joined."""
    parts: list[bytes] = []
    at = 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            raise BrokenAnswer("a chunked body cut short")
        size = int(body[at:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(parts)
        parts.append(body[end + 2 : end + 2 + size])
        at = end + 2 + size + 2


def parse_answer(raw: bytes) -> Answer:
    """An HTTP/1.1 answer read to the end of its connection."""
    head, blank, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not blank or len(status_line) < 2 or not status_line[1].isdigit():
        raise BrokenAnswer(f"not an HTTP answer: {raw[:60]!r}")
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunked(body)
    elif "content-length" in fields and len(body) < int(fields["content-length"]):
        raise BrokenAnswer("the answer was cut short")
    reason = status_line[2] if len(status_line) > 2 else ""
    return Answer(int(status_line[1]), reason, body)


class SocketClient(Api[JSON]):
    """Blocking client of the daemon on ``target``'s socket; ``with SocketClient(t) as c``
    then ``c.entity(id)`` is the answer itself."""

    def __init__(self, target: Target, *, timeout: float = 30.0) -> None:
        if target.socket is None:
            raise ValueError("SocketClient needs a target with a socket")
        self.target = target
        self.socket: Path = target.socket
        self.timeout = timeout

    def __enter__(self) -> SocketClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to close: each question has its own connection."""

    def _exchange(self, request: bytes, timeout: float) -> Answer:
        path = str(self.socket)
        check_socket_owner(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            check_peer(sock, path)
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(1 << 16):
                chunks.append(chunk)
        return parse_answer(b"".join(chunks))

    def send(self, call: Call) -> JSON:
        """The answer to ``call``, checked against its shape."""
        try:
            answer = self._exchange(request_bytes(call), call.timeout or self.timeout)
        except ForeignSocket as exc:
            raise UntrustedDaemon(str(exc)) from exc
        except TimeoutError as exc:
            raise DaemonUnavailable(
                f"mdsd at {self.socket} did not answer in time ({exc!r})"
            ) from exc
        except (OSError, BrokenAnswer) as exc:
            raise DaemonUnavailable(socket_unreachable(self.socket, exc)) from exc
        body = decoded(answer.content)
        if 200 <= answer.status < 300 or answer.status in call.ok_statuses:
            return checked(as_document(body), call.shape, f"{call.method} {call.path}")
        raise api_error(
            answer.status, body, answer.content.decode(errors="replace") or answer.reason
        )
