"""MLflow's doors into mds: the webhook receiver and the catch-up poll, as the daemon runs them.

The receiver is a small HTTP listener of its own, because MLflow must reach it over TCP and
the API lives on a Unix socket; it binds to loopback unless configured otherwise. A delivery
is taken only when ``X-MLflow-Signature`` is the HMAC-SHA256, under the shared secret, of
``{delivery id}.{timestamp}.{raw body}`` and ``X-MLflow-Timestamp`` is fresh: a forged or
unsigned delivery answers 401, a stale or malformed one 400, and each is counted in
``mds status`` (``sources.mlflow.webhook``), never ingested; a genuine delivery sent again
(MLflow retrying after a lost answer) is acknowledged without being ingested twice. A good delivery
becomes one thin event through the same durable intake as every other door and is
acknowledged only once that event is on disk; if intake fails the answer is 500, so MLflow
retries (and the catch-up poll finds what it finally drops). A body over ``MAX_BODY_BYTES``
is refused (413) before more than that is read, signed or not, and one nested past the
JSON depth limit every door keeps is a 400; the listener closes connections that stall
before their request is in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mdsd.base import jsondepth
from mdsd.base.bodies import BodyTooLarge, read_body
from mdsd.base.faults import StorageFault
from mdsd.base.listeners import build_server
from mdsd.connectors.base import Connector
from mdsd.connectors.mlflow.catchup import CatchUp, Submit
from mdsd.connectors.mlflow.connector import SOURCE, MlflowConnector
from mdsd.connectors.mlflow.settings import MlflowConfig
from mdsd.connectors.payload import parse_timestamp

log = logging.getLogger(__name__)

PATH = "/webhooks/mlflow"
ORIGIN = "mlflow-webhook"
SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
#: MLflow's payloads are a few hundred bytes; anything this big is not a delivery
MAX_BODY_BYTES = 1 << 20
#: registry entities mds follows; prompts and budget policies are acknowledged and ignored
TRACKED_ENTITIES = frozenset(
    {"registered_model", "model_version", "model_version_tag", "model_version_alias"}
)
CATCH_UP_STATE = "mlflow-catchup.json"


class Refused(Exception):
    """A delivery that is not taken: the HTTP status, the counter it bumps, and why."""

    def __init__(self, status: int, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.counter = counter
        self.reason = reason


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` MLflow sends for this delivery."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(
    headers: Mapping[str, str], body: bytes, secret: str, *, now: float, max_age: float
) -> str:
    """The delivery id of an authentic, fresh delivery; raises ``Refused`` otherwise.

    The signature header may carry several space-separated signatures (a secret being
    rotated, as in Standard Webhooks); one match is enough.
    """
    delivery_id = headers.get(DELIVERY_ID_HEADER, "").strip()
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    offered = headers.get(SIGNATURE_HEADER, "").split()
    if not offered:
        raise Refused(401, "unsigned", f"no {SIGNATURE_HEADER} header")
    if not delivery_id or not timestamp.isdigit():
        raise Refused(
            400, "malformed", f"{DELIVERY_ID_HEADER} and a numeric {TIMESTAMP_HEADER} are required"
        )
    expected = sign(secret, delivery_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise Refused(401, "bad_signature", "the signature does not match the shared secret")
    age = now - int(timestamp)
    if abs(age) > max_age:
        raise Refused(400, "stale", f"timestamp is {age:+.0f}s from now (allowed ±{max_age:.0f}s)")
    return delivery_id


def thin_event(delivery: object, delivery_id: str) -> dict[str, str] | None:
    """The thin event an (authentic) delivery stands for; None for entities mds does not
    follow. Only the ids are used: the payload says what changed, hydration says how."""
    if not isinstance(delivery, dict):
        raise Refused(400, "malformed", "the body must be a JSON object")
    entity = delivery.get("entity")
    if entity not in TRACKED_ENTITIES:
        return None
    data = delivery.get("data")
    data = data if isinstance(data, dict) else {}
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not name.strip():
        raise Refused(400, "malformed", f'a {entity} delivery needs "data.name"')
    event = {
        "event_type": "mlflow_model_changed",
        "name": name,
        "event_id": f"mlflow:{delivery_id}",
    }
    # an alias deletion names no version: the model event re-reads all of them
    if entity != "registered_model" and str(version or "").strip():
        event.update(event_type="mlflow_model_version_changed", version=str(version))
    emitted_at = delivery.get("timestamp")
    if isinstance(emitted_at, str) and parse_timestamp(emitted_at):
        event["emitted_at"] = emitted_at
    return event


class WebhookReceiver:
    """The Starlette app that takes MLflow deliveries; ``serve(sock)`` runs it."""

    def __init__(
        self, secret: str, max_age: float, submit: Submit, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self.max_age = max_age
        self.submit = submit
        self.clock = clock
        self.counts = dict.fromkeys(
            (
                "deliveries",
                "accepted",
                "ignored",
                "duplicates",
                "unsigned",
                "bad_signature",
                "stale",
                "malformed",
                "failed",
            ),
            0,
        )
        self.last_refusal: str | None = None
        #: where MLflow should deliver, once bound (for ``mds status`` and the log)
        self.url: str | None = None
        #: delivery id -> when it was taken; a replay within the freshness window is a no-op
        self._taken: OrderedDict[str, float] = OrderedDict()
        self.app = Starlette(routes=[Route(PATH, self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> JSONResponse:
        self.counts["deliveries"] += 1
        try:
            try:  # held only up to the cap, signed or not: the signature covers the whole
                body = await read_body(request, MAX_BODY_BYTES)
            except BodyTooLarge as exc:
                raise Refused(413, "malformed", str(exc)) from None
            now = self.clock()
            delivery_id = verify(request.headers, body, self.secret, now=now, max_age=self.max_age)
            if delivery_id in self._taken:
                self.counts["duplicates"] += 1
                return JSONResponse({"duplicate": True})
            try:
                delivery = jsondepth.loads(body)
            except jsondepth.TooDeep as exc:
                raise Refused(400, "malformed", f"body refused: {exc}") from None
            except ValueError as exc:
                raise Refused(400, "malformed", f"body is not JSON: {exc}") from exc
            event = thin_event(delivery, delivery_id)
        except Refused as refused:
            self.counts[refused.counter] += 1
            self.last_refusal = f"{refused.counter}: {refused.reason}"
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        if event is None:
            self.counts["ignored"] += 1
            return JSONResponse({"ignored": True})
        try:
            result = await self.submit(json.dumps(event).encode(), ORIGIN)
        except StorageFault as fault:  # not durable, and not MLflow's fault: retry later
            self.counts["failed"] += 1
            status = 507 if fault.no_space else 503
            return JSONResponse({"error": str(fault)}, status_code=status)
        except Exception as exc:  # not durable: MLflow must retry
            self.counts["failed"] += 1
            return JSONResponse({"error": f"intake failed: {exc}"}, status_code=500)
        self._remember(delivery_id, now)
        self.counts["accepted"] += 1
        log.info("mlflow delivery %s: %s %s", delivery_id, event["event_type"], event["name"])
        return JSONResponse(result.to_json())

    def _remember(self, delivery_id: str, now: float) -> None:
        self._taken[delivery_id] = now
        while self._taken and next(iter(self._taken.values())) < now - 2 * self.max_age:
            self._taken.popitem(last=False)

    def stats(self) -> dict[str, object]:
        """Deliveries received, taken (``accepted``), ignored (entities not followed),
        ``duplicates``, and refused by reason; ``last_refusal`` says the latest why."""
        return {"url": self.url, **self.counts, "last_refusal": self.last_refusal}

    async def serve(self, sock: socket.socket) -> None:
        """Serve on ``sock`` until cancelled; deliveries in flight finish first."""
        server = build_server(self.app, log_level="warning")
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="mlflow-webhook-http")
        try:
            await asyncio.shield(serving)
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await serving


def bind(host: str, port: int) -> socket.socket:
    """Bind now, so a taken port fails the daemon's start rather than a background task."""
    sock = socket.create_server((host, port), family=_family(host), backlog=128)
    sock.setblocking(False)
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def mlflow_services(
    settings: MlflowConfig,
    connectors: Mapping[str, Connector],
    submit: Submit,
    data_dir: Path,
    pending: Callable[[str], int],
) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The background jobs ``[sources.mlflow]`` and ``[mlflow]`` ask for, by task name (each
    a function that starts it, so it can be started again); their counters join the
    connector's in ``mds status``. Both hand what they find to ``submit``, the durable
    intake; the catch-up poll keeps its snapshot in ``data_dir``, and asks ``pending`` (units
    of a source waiting to be hydrated) whether what it announced is written."""
    connector = connectors.get(SOURCE)
    if not isinstance(connector, MlflowConnector):
        if settings != MlflowConfig():
            log.warning("[mlflow] is configured but [sources.mlflow] is not: MLflow is ignored")
        return {}
    jobs: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
    if settings.catch_up_interval_seconds > 0:
        catch_up = CatchUp(
            connector,
            submit,
            data_dir / CATCH_UP_STATE,
            settings.catch_up_interval_seconds,
            run_window_seconds=settings.catch_up_run_window_days * 86400,
            settled=lambda: pending(SOURCE) == 0,
        )
        connector.services["catch_up"] = catch_up.stats
        connector.in_step_at = catch_up.in_step_at
        jobs["mlflow-catchup"] = catch_up.run
    if settings.webhook_port:
        receiver = WebhookReceiver(settings.secret, settings.webhook_max_age_seconds, submit)
        sock = bind(settings.webhook_host, settings.webhook_port)
        host, port = sock.getsockname()[:2]
        receiver.url = f"http://{f'[{host}]' if ':' in host else host}:{port}{PATH}"
        log.info("mlflow webhook receiver listening on %s", receiver.url)
        connector.services["webhook"] = receiver.stats
        jobs["mlflow-webhook"] = partial(receiver.serve, sock)
    return jobs
