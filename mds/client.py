"""The async daemon client: how the TUI, scripts, streams and a team's daemon are talked to.

A thin typed layer over ``httpx.AsyncClient``, its questions those of ``mds.calls.Api``
(the CLI's common paths on the socket take ``mds.socket_client`` instead, which imports
neither httpx nor asyncio): on the daemon's Unix socket (checking who
owns it and who answers on it, ``mds.peercheck``), on a team's daemon over HTTPS with a
bearer token (``mds.target`` says which), or on any ASGI app for in-process tests. Answers
are the JSON documents of ``docs/api.md``, each checked against its shape
(``mds.wire.shapes``) and returned whole, extra keys included, so ``mds ... --json`` prints
what the daemon said. Failures raise ``ApiError`` (the daemon said no; ``AccessDenied``
when it refused the token or its scope), ``OffContract`` (it answered off its documented
shape) or ``DaemonUnavailable`` (nobody answers, TLS verification failed, or, as
``UntrustedDaemon``, another user's process answers on the socket: the client checks before
it sends), all of ``mds.errors``. Every message names the target.
"""

from __future__ import annotations

import json
import os
import re
import socket as sockets
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpcore
import httpx

from mds.calls import Api, Call
from mds.errors import (
    AccessDenied,
    ApiError,
    ClientError,
    DaemonUnavailable,
    OffContract,
    UntrustedDaemon,
    api_error,
    as_document,
    checked,
    decoded,
    socket_unreachable,
)
from mds.peercheck import ForeignSocket, check_peer, check_socket_owner
from mds.target import Target, resolve_socket
from mds.wire import JSON, shapes

__all__ = [
    "AccessDenied",
    "ApiError",
    "Client",
    "ClientError",
    "DaemonUnavailable",
    "OffContract",
    "UntrustedDaemon",
]


def _cut_short(exc: ClientError, first_line: int) -> ClientError:
    """``exc`` of a part of an input sent in parts, saying what got in before it."""
    done = (
        f"lines 1 to {first_line - 1} are in (durable); " if first_line > 1 else "nothing is in; "
    )
    message = f"{exc} ({done}resume from line {first_line}: tail -n +{first_line} FILE)"
    if isinstance(exc, ApiError):
        return ApiError(exc.status, exc.code, message)
    return type(exc)(message)


def _api_error(response: httpx.Response, body: Any) -> ApiError:
    return api_error(response.status_code, body, response.text or response.reason_phrase)


#: Input larger than this goes to the daemon in parts of about this size when it is JSON
#: lines: well under ``[intake] max_request_bytes`` (16 MiB by default), so an input of any
#: size gets in, each part acknowledged (durable) before the next is sent.
INGEST_PART_BYTES = 4 * 1024 * 1024


def json_line_parts(
    body: bytes, part_bytes: int, *, lines: bool = False
) -> list[tuple[bytes, int, int]] | None:
    """``body`` as (part, its first line's number, its first event's index) cut at line
    boundaries, or ``None`` when it is not JSON lines (one document, an array). ``lines``
    says it is (a ``.jsonl`` file); otherwise a first line holding an event does.

    Events are counted as the daemon counts them, every line but blank ones, so reasons
    and dead letters point into the whole input.
    """
    if not lines:
        try:
            blank = re.match(rb"\s*", body)
            head = blank.end() if blank else 0
            end = body.find(b"\n", head)
            if not isinstance(json.loads(body[head : end if end >= 0 else None]), dict):
                return None
        except ValueError:
            return None
    held = body.splitlines(keepends=True)  # as the daemon numbers them
    parts: list[tuple[bytes, int, int]] = []
    start = size = events = 0
    for number, line in enumerate(held):
        if size and size + len(line) > part_bytes:
            parts.append((b"".join(held[start:number]), start + 1, events))
            events += sum(1 for sent in held[start:number] if sent.strip())
            start, size = number, 0
        size += len(line)
    parts.append((b"".join(held[start:]), start + 1, events))
    return parts


def _tls(target: Target) -> ssl.SSLContext | bool:
    """Verification of the server's certificate: against ``--cacert`` alone when given (a
    private CA, as ``curl --cacert``), else against the usual public CAs."""
    return ssl.create_default_context(cafile=str(target.cacert)) if target.cacert else True


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (httpx wraps httpcore wraps ssl and OSError)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


#: OpenSSL's verify codes for a certificate issued to another name or address
_NAME_MISMATCH = {62, 64}


def _why_remote_failed(exc: BaseException, cacert: Path | None = None) -> str:
    """Why a server URL did not answer, in the words a person acts on (``cacert``: the CA
    file the client trusted, if one was given)."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            if cause.verify_code in _NAME_MISMATCH:
                what = "use the host name or address its certificate was issued for"
            elif cacert is not None:
                what = f"the CA file {cacert} did not sign the daemon's certificate"
            else:
                what = "if its certificate comes from a private CA, pass its CA file with --cacert"
            return f"TLS verification failed ({cause.verify_message}); {what}"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or cause}): is it serving HTTPS?"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused: nothing listens on that port"
        if isinstance(cause, sockets.gaierror):
            return f"unknown host ({cause.strerror})"
    if isinstance(exc, httpx.TimeoutException):
        return "unreachable: no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"it closed the connection without an answer ({exc}): is it an https:// URL?"
    return f"unreachable ({exc})"


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


class Client(Api[Coroutine[Any, Any, JSON]]):
    """Async client of the daemon API. Use as ``async with Client(...) as c``; its
    questions (``mds.calls.Api``) are awaited: ``await c.entity(id)``.

    ``target`` names the daemon (``mds.target.resolve``); without it, ``socket`` or the
    default socket; ``app`` serves in-process instead (tests).
    """

    def __init__(
        self,
        socket: str | os.PathLike[str] | None = None,
        *,
        target: Target | None = None,
        app: Any = None,
        timeout: float = 30.0,
    ) -> None:
        transport: httpx.AsyncBaseTransport
        base_url, headers = "http://mds", {}
        self.target = target or Target(socket=None if app is not None else resolve_socket(socket))
        self.socket = self.target.socket
        if app is not None:
            transport = httpx.ASGITransport(app=app)
        elif self.target.server is not None:
            # keep-alive: one TLS handshake per client, not per request
            transport = httpx.AsyncHTTPTransport(verify=_tls(self.target))
            base_url = self.target.server
            if self.target.token:
                headers["Authorization"] = f"Bearer {self.target.token}"
        else:
            transport = checked_unix_transport(str(self.socket))
        self._http = httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=headers, timeout=timeout
        )
        #: the daemon refused this client's token (401): asking again cannot help, and every
        #: failed attempt counts toward locking this address out, other users' tokens too;
        #: or it locked the address out (429) until ``_barred_until``
        self._barred: AccessDenied | None = None
        self._barred_until = 0.0

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout: float | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> JSON:
        barred = self._barred
        if barred is not None and (barred.status == 401 or time.monotonic() < self._barred_until):
            raise AccessDenied(barred.status, barred.code, barred.message)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        try:
            response = await self._http.request(
                method, path, params=clean, json=json_body, content=content, **extra
            )
        except ForeignSocket as exc:
            raise UntrustedDaemon(str(exc)) from exc
        except httpx.TimeoutException as exc:
            if self.target.server is not None:
                raise DaemonUnavailable(self._unreachable(exc)) from exc
            where = self.socket or "the in-process app"
            raise DaemonUnavailable(f"mdsd at {where} did not answer in time ({exc!r})") from exc
        except (httpx.TransportError, OSError) as exc:
            raise DaemonUnavailable(self._unreachable(exc)) from exc
        body = decoded(response.content)
        if response.is_success or response.status_code in ok_statuses:
            return as_document(body)
        raise self._refused(response, _api_error(response, body))

    def _refused(self, response: httpx.Response, error: ApiError) -> ApiError:
        """``error``, as ``AccessDenied`` naming the target and what to do when the daemon
        refused the token, its scope, or this address for a while."""
        sent = "the token" if self.target.token else "a request without a token"
        hints = {
            401: f"it refused {sent}; set MDS_TOKEN or --token-file to a token of its "
            "admin's `mdsd token create`",
            403: "the token's scope does not allow this (read < write < admin)",
            429: "too many failed attempts from this address; try again after "
            f"{response.headers.get('Retry-After', 'a while')} s",
        }
        hint = hints.get(error.status)
        if hint is None:
            return error
        message = f"mdsd at {self.target}: {hint} ({error.status} {error.code}: {error.message})"
        denied = AccessDenied(error.status, error.code, message)
        if error.status in (401, 429):
            self._barred = denied
            wait = response.headers.get("Retry-After", "")
            self._barred_until = time.monotonic() + (float(wait) if wait.isdigit() else 60.0)
        return denied

    def _unreachable(self, exc: Exception) -> str:
        """Why nothing answered, and what to do: start mdsd, or name the socket it uses."""
        if self.target.server is not None:
            why = _why_remote_failed(exc, self.target.cacert)
            return f"mdsd at {self.target} is not reachable: {why}"
        if self.socket is None:
            return f"mdsd is not reachable in-process ({exc})"
        return socket_unreachable(self.socket, exc)

    async def get(self, path: str, **params: Any) -> JSON:
        """``GET path?params``, the answer unchecked (for what no method covers)."""
        return await self.request("GET", path, params=params)

    async def answer(
        self, shape: type[shapes.Shape], method: str, path: str, **kwargs: Any
    ) -> JSON:
        """The answer to ``method path`` (``request``'s keywords), checked against the
        ``shape`` docs/api.md gives it; ``OffContract`` names the field that is not."""
        return checked(await self.request(method, path, **kwargs), shape, f"{method} {path}")

    async def send(self, call: Call) -> JSON:
        """The answer to ``call``, checked against its shape."""
        return await self.answer(
            call.shape,
            call.method,
            call.path,
            params=call.query,
            json_body=call.json_body,
            content=call.content,
            timeout=call.timeout,
            ok_statuses=call.ok_statuses,
        )

    async def read(self, shape: type[shapes.Shape], path: str, **params: Any) -> JSON:
        """``GET path?params``, checked against ``shape``."""
        return await self.answer(shape, "GET", path, params=params)

    # -- the API (``mds.calls.Api`` has the one-request questions) -------------------

    async def ingest(self, body: bytes, *, name: str | None = None) -> JSON:
        """Send raw event input (one JSON event, a JSON array, or JSON lines); ``name`` is
        the file it was read from (``.jsonl``: JSON lines, even when every line is broken).

        JSON lines over ``INGEST_PART_BYTES`` go in parts, each durable when the daemon
        answers it; if one fails, the error says which lines are in and where to resume.
        """
        parts = None
        if len(body) > INGEST_PART_BYTES:
            jsonl = (name or "").lower().endswith(".jsonl")
            parts = json_line_parts(body, INGEST_PART_BYTES, lines=jsonl)
        if parts is None:
            return await self.answer(
                shapes.Ingested, "POST", "/v1/events", content=body, params={"name": name}
            )
        total: JSON = {"accepted": 0, "duplicates": 0, "rejected": []}
        for part, first_line, first_index in parts:
            params = {"name": name, "first_line": first_line, "first_index": first_index}
            try:
                answer = await self.answer(
                    shapes.Ingested, "POST", "/v1/events", content=part, params=params
                )
            except ClientError as exc:
                raise _cut_short(exc, first_line) from exc
            total["accepted"] += answer["accepted"]
            total["duplicates"] += answer["duplicates"]
            total["rejected"] += answer["rejected"]
        return total

    async def changes(self, on_open: Callable[[], object] | None = None) -> AsyncIterator[JSON]:
        """Follow the daemon's change stream: one dict per committed transaction.

        ``on_open`` is called once the daemon has accepted the stream: an idle daemon
        sends nothing but keep-alive comments, so no change may come for a long while.
        A stream the daemon refuses raises ``ApiError`` instead of ending quietly."""
        try:
            async with self._http.stream("GET", "/v1/changes", timeout=None) as response:
                if not response.is_success:
                    await response.aread()
                    raise self._refused(response, _api_error(response, decoded(response.content)))
                if on_open is not None:
                    on_open()
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        notice = json.loads(line[5:].strip())
                        yield checked(notice, shapes.Notice, "a change notice of GET /v1/changes")
        except ForeignSocket as exc:
            raise UntrustedDaemon(str(exc)) from exc
        except httpx.ConnectError as exc:
            raise DaemonUnavailable(self._unreachable(exc)) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise DaemonUnavailable(
                f"change stream of mdsd at {self.target} closed: {exc}"
            ) from exc
