"""The answers of the daemon's operations (status, intake, dead letters, reconcile) and of
a refusal (the error document) as shapes."""

from __future__ import annotations

from typing import Any

import msgspec

from mds.wire.shapes.base import Shape


class SourceStatus(Shape):
    """One source's counters, the daemon's and its fetch workers' added up."""

    state: str
    requests: int
    errors: int
    #: when mds last held everything the source showed (a source polled whole: MLflow's
    #: catch-up); None until then, absent for sources that cannot say
    in_step_at: str | None = None


class SourceQueue(Shape):
    queued: int
    in_flight: int


class Process(Shape):
    pid: int | None
    restarts: int


class HydrationStatus(Shape):
    """What hydration has done since start, and what waits on each source."""

    hydrated: int
    unchanged: int
    stale: int
    deleted: int
    failures: int
    dead_lettered: int
    seconds: dict[str, float]
    by_source: dict[str, SourceQueue]
    processes: list[Process]


class Runtime(Shape):
    gc_frozen_objects: int
    gc_collections: list[int]


class RemoteStatus(Shape):
    """The TCP listener (``[api] listen``): where, whether TLS, how many tokens, and the
    requests refused for want of a valid token; never a token, a hash or an address."""

    #: the bound address (``HOST:PORT``, the real port when ``listen`` asked for 0); None: off
    listen: str | None
    tls: bool
    tokens: int
    #: requests without a valid token (none, unknown, revoked): each a 401
    failed_attempts: int
    #: requests refused with 429 because their address had too many failed attempts
    rate_limited: int
    #: addresses refused now
    limited_addresses: int = 0
    #: why no token is accepted (a token file open to other users), else None
    token_file_problem: str | None = None


class ReplicaStatus(Shape):
    """A replica's place in its primary's transaction topic (``mdsd replica``)."""

    topic: str
    #: where writes go: the replica's ``[replica] primary``
    primary: str
    #: the primary's transactions this replica holds, the last one's number
    applied_tx: int
    #: the primary's commit time of that transaction
    last_applied_committed_at: str | None
    #: messages in the topic not applied yet; None until the broker first said
    behind_messages: int | None
    #: 0 when caught up, else how long ago the primary committed the last one applied
    behind_seconds: float | None
    last_error: str | None
    applied_since_start: int = 0


class Status(Shape):
    """``GET /v1/status``: what the daemon holds, and what it is doing."""

    entities: int
    stubs: int
    deleted: int
    pending: int
    dead_letters: int
    last_tx: int
    last_tx_at: str | None
    sources: dict[str, SourceStatus]
    enrichment: dict[str, Any]
    started_at: str | None
    version: str
    inbox_files: int | None = None
    hydration: HydrationStatus | None = None
    runtime: Runtime | None = None
    #: how far back the graph reaches in valid time: the earliest moment anything holds from
    earliest_valid: str | None = None
    remote: RemoteStatus | None = None
    #: entities by kind, deleted ones left out
    kinds: dict[str, int] | None = None
    #: "primary", or "replica" for ``mdsd replica``
    role: str | None = None
    #: a replica's lag behind its primary; None on a primary
    replica: ReplicaStatus | None = None


class WaitIdle(Status, kw_only=True):  # `idle` follows optional fields
    """``GET /v1/wait-idle``: the status, and whether it went idle before the timeout."""

    idle: bool


class Rejection(Shape):
    """An event intake refused (it is in the dead letters): its place in the input, why."""

    index: int
    reason: str


class Ingested(Shape):
    """``POST /v1/events``: the events now durable, and those refused."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


class DeadLetter(Shape):
    id: int
    received_at: str | None
    reason: str
    raw: str
    origin: str
    redriven_at: str | None = None


class DeadLetters(Shape):
    """``GET /v1/dead-letters``."""

    dead_letters: list[DeadLetter]


class Redriven(Shape):
    """``POST /v1/dead-letters/redrive``: how many got in, how many were refused again,
    and the ids asked for that wait for no redrive."""

    redriven: int
    rejected: int
    missing: list[int]


class Reconcile(Shape):
    """``POST /v1/reconcile``: whether a pass started (not while one runs), and its number."""

    started: bool
    pass_: int = msgspec.field(name="pass")
    reason: str | None = None


class BackupFile(Shape):
    bytes: int
    sha256: str


class Backup(Shape):
    """``POST /v1/backup``: the manifest of the backup written (``mdsd backup``)."""

    dir: str
    format: int
    version: str
    made_at: float
    last_tx: int
    #: index path -> the last transaction it holds; null for one left out (rebuilt)
    indexed_tx: dict[str, int | None]
    files: dict[str, BackupFile]


class ErrorBody(Shape):
    code: str
    message: str
    #: a 404 as of a valid time before the entity's known history: where that begins
    known_from: str | None = None


class Error(Shape):
    """Every refusal: ``{"error": {"code", "message"}}``, with the HTTP status."""

    error: ErrorBody
