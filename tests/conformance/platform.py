"""A second reference platform, written from contract section 1.2 alone.

It is deliberately unlike ``simulator/``: one Starlette app serves all six sources from a
small hand-built organisation held as plain payload dicts that tests edit in place. It
takes every liberty the contract allows and nothing more: optional fields absent in some
payloads and null in others, empty lists, unknown extra fields, timestamps in several
RFC 3339 spellings, opaque single-use-looking page tokens with URL-hostile characters,
pages shorter than ``limit``, ``Retry-After`` as seconds and as an HTTP date, a
``users?email=`` lookup that matches by prefix (so it can answer several users, or none),
and 404 for whatever is not (any more) there.
"""

from __future__ import annotations

import copy
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Payload = dict[str, Any]

#: collection -> the payload field holding the native id (contract 1.2)
ID_FIELD: dict[str, str] = {
    "models": "id",
    "instances": "id",
    "pipelines": "id",
    "pipeline-runs": "run_id",
    "features": "id",
    "tests": "test_id",
    "datasets": "id",
    "users": "id",
    "teams": "id",
}

#: this platform never returns more than this many listing items, whatever ``limit`` says
MAX_PAGE = 2


@dataclass
class Fault:
    """One scripted failure answered instead of the real response.

    ``kind`` is ``429-seconds`` (``Retry-After: <delay>``), ``429-date`` (``Retry-After``
    as an HTTP date ``delay`` seconds ahead) or ``503``.
    """

    kind: str
    delay: float = 1.0


@dataclass
class Hit:
    """One request as the platform saw it."""

    at: float
    path: str
    status: int
    #: for a 429: the earliest moment the platform allowed the next request
    not_before: float | None = None


@dataclass
class Organisation:
    """Every source's current state: collection -> native id -> payload."""

    collections: dict[str, dict[str, Payload]] = field(
        default_factory=lambda: {name: {} for name in ID_FIELD}
    )

    def put(self, collection: str, payload: Payload) -> None:
        self.collections[collection][str(payload[ID_FIELD[collection]])] = payload

    def get(self, collection: str, native: str) -> Payload | None:
        return self.collections[collection].get(native)

    def payload(self, collection: str, native: str) -> Payload:
        """The payload to edit in place; the platform serves the edit from then on."""
        return self.collections[collection][native]

    def remove(self, collection: str, native: str) -> None:
        self.collections[collection].pop(native, None)

    def items(self, collection: str) -> Iterator[tuple[str, Payload]]:
        yield from sorted(self.collections[collection].items())


class PlatformApp:
    """The HTTP face of an ``Organisation``, with scripted faults and a request log."""

    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.faults: dict[str, list[Fault]] = {}
        self.hits: list[Hit] = []
        self._tokens: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/api/v1/{collection}", self.listing),
                Route("/api/v1/{collection}/{native:path}", self.item),
            ]
        )

    def fail(self, path: str, *faults: Fault) -> None:
        """Answer the next requests for ``path`` with ``faults``, in order."""
        with self._lock:
            self.faults.setdefault(path, []).extend(faults)

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def _fault(self, path: str) -> Response | None:
        with self._lock:
            queue = self.faults.get(path)
            fault = queue.pop(0) if queue else None
        if fault is None:
            return None
        now = time.time()
        if fault.kind == "503":
            self._log(path, 503)
            return JSONResponse({"error": "maintenance"}, status_code=503)
        if fault.kind == "429-seconds":
            header = str(int(fault.delay))
            not_before = now + int(fault.delay)
        elif fault.kind == "429-date":
            # an HTTP date has whole seconds: the client may go at the start of that second
            not_before = float(int(now + fault.delay))
            header = formatdate(not_before, usegmt=True)
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")
        self._log(path, 429, not_before)
        return JSONResponse(
            {"error": "slow down"}, status_code=429, headers={"Retry-After": header}
        )

    def _log(self, path: str, status: int, not_before: float | None = None) -> None:
        with self._lock:
            self.hits.append(Hit(time.time(), path, status, not_before))

    def _refusal(self, path: str, collection: str) -> Response | None:
        """The answer before any data: an injected fault, or 404 for an unknown collection."""
        fault = self._fault(path)
        if fault is not None:
            return fault
        if collection not in ID_FIELD:
            self._log(path, 404)
            return JSONResponse({"error": "no such collection"}, status_code=404)
        return None

    async def item(self, request: Request) -> Response:
        path = request.url.path
        collection = request.path_params["collection"]
        native = request.path_params["native"]
        if (refused := self._refusal(path, collection)) is not None:
            return refused
        payload = self.org.get(collection, native)
        if payload is None:
            self._log(path, 404)
            return JSONResponse({"error": f"{collection}/{native} not found"}, status_code=404)
        self._log(path, 200)
        return JSONResponse(copy.deepcopy(payload))

    async def listing(self, request: Request) -> Response:
        path = request.url.path
        collection = request.path_params["collection"]
        if (refused := self._refusal(path, collection)) is not None:
            return refused
        email = request.query_params.get("email")
        if collection == "users" and email is not None:
            self._log(path, 200)
            return JSONResponse({"users": self.users_by_email(email)})
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return JSONResponse({"error": "limit must be an integer"}, status_code=400)
        token = request.query_params.get("page_token")
        start = 0
        if token:
            with self._lock:
                remembered = self._tokens.get(token)
            if remembered is None or remembered[0] != collection:
                self._log(path, 400)
                return JSONResponse({"error": f"bad page_token {token!r}"}, status_code=400)
            start = remembered[1]
        # newest-first by id, not the order a client might assume
        rows = sorted(self.org.items(collection), reverse=True)
        page = rows[start : start + max(1, min(limit, MAX_PAGE))]
        end = start + len(page)
        next_token = None
        if end < len(rows):
            # opaque, with characters a client must URL-encode
            next_token = f"c+{secrets.token_urlsafe(4)}/{secrets.token_hex(2)}=="
            with self._lock:
                self._tokens[next_token] = (collection, end)
        items = [
            {"id": native, "updated_at": payload.get("updated_at"), "etag": secrets.token_hex(3)}
            for native, payload in page
        ]
        self._log(path, 200)
        return JSONResponse({"items": items, "next_page_token": next_token, "total": len(rows)})

    def users_by_email(self, email: str) -> list[Payload]:
        """Users whose email starts with ``email`` (case-insensitively), longest email
        first: a directory search, so it may answer several users, or none."""
        wanted = email.strip().lower()
        found = [
            copy.deepcopy(u)
            for _, u in self.org.items("users")
            if str(u.get("email") or "").lower().startswith(wanted)
        ]
        return sorted(found, key=lambda u: -len(str(u.get("email") or "")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlatformServer:
    """``PlatformApp`` served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, platform: PlatformApp) -> None:
        self.platform = platform
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            platform.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="platform", daemon=True)

    def __enter__(self) -> PlatformServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the conformance platform did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
