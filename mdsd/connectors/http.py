"""HTTP access to one source system that never hammers it.

``SourceClient`` wraps one ``httpx.AsyncClient`` per source with, in the order a request
meets them: a short-lived response cache that also coalesces identical concurrent GETs, a
circuit breaker, the source's ``Retry-After`` hold, a concurrency limit, a token-bucket
rate limit, and retries with exponential backoff and full jitter. A 404 is an answer
(``NotFound``), not a failure. Clock, sleep, jitter and transport are injectable so tests
run on fake time against ``httpx.MockTransport`` or an ASGI app.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from mdsd.connectors.base import Connector, InvalidPayload, SourceUnavailable
from mdsd.connectors.guards import MISS, CircuitBreaker, Clock, Sleep, TokenBucket, TtlCache
from mdsd.connectors.policy import SourcePolicy
from mdsd.connectors.transport import SourceTransport

JsonValue = Any


@dataclass(frozen=True, slots=True)
class NotFound:
    """The source answered 404 (or 410) for ``url``: the entity does not exist (any more)."""

    url: str


_HEADERS = {"Accept": "application/json"}
_POST_HEADERS = {**_HEADERS, "Content-Type": "application/json"}
#: Answers that say the connection to the source is wrong (a moved base_url, missing
#: credentials), not the entity: fixed in config, so the work waits and is retried. Any
#: other 4xx refuses this one read for good, and its unit goes to the dead letters.
_CONNECTION_PROBLEMS = frozenset({*range(300, 400), 401, 403, 407})
#: A body larger than this is refused (``InvalidPayload``) instead of read on: an entity or
#: a listing page is kilobytes, and a source streaming without end would take the memory
#: of the worker that reads it, then of the next one, over and over.
MAX_BODY_BYTES = 64 * 2**20
#: The longest ``Retry-After`` honoured. A source asking for more (a clock off by a year,
#: ``inf``) is asked again after this long, rather than parked for hours, or for good.
MAX_RETRY_AFTER_SECONDS = 60.0


class _Transient(Exception):
    """One attempt failed in a way worth retrying."""


class SourceClient:
    """GET JSON from one source politely (and POST the searches that are reads). One
    instance per source, shared by all callers."""

    def __init__(
        self,
        source: str,
        policy: SourcePolicy,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.policy = policy
        self.clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._transport = transport or SourceTransport(
            limits=httpx.Limits(max_connections=policy.concurrency)
        )
        self._base_url = policy.base_url.rstrip("/")
        self._request_extensions = {"timeout": httpx.Timeout(policy.timeout_seconds).as_dict()}
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._bucket = TokenBucket(policy.rate_per_second, policy.burst, clock, sleep)
        self._breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_reset_seconds, clock)
        self._cache: TtlCache[str, JsonValue | NotFound] = TtlCache(
            policy.cache_ttl_seconds, policy.cache_max_entries, clock
        )
        self._pending: dict[str, asyncio.Task[JsonValue | NotFound]] = {}
        self._hold_until = 0.0  # the source's Retry-After, for every caller
        self._in_flight = 0
        self._last_error: str | None = None
        self._counts = dict.fromkeys(
            (
                "requests",
                "errors",
                "retries",
                "rate_limited",
                "not_found",
                "cache_hits",
                "coalesced",
                "unavailable",
            ),
            0,
        )

    @staticmethod
    def url(path: str, params: Mapping[str, str | int] | None = None) -> str:
        """The cache key of a GET: its path and query, relative to the source's base URL.

        Plain string work: this runs for every hydration, and parsing an ``httpx.URL``
        here cost as much as a tenth of the request."""
        return f"{path}?{urlencode(params)}" if params else path

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        cache: bool = True,
    ) -> JsonValue | NotFound:
        """The decoded JSON body, or ``NotFound`` on 404 or 410.

        Raises ``SourceUnavailable`` (retries exhausted, breaker open, unexpected status)
        or ``InvalidPayload`` (the body is not JSON). With ``cache=False`` the call
        neither reads nor fills the cache (listing pages).
        """
        url = self.url(path, params)
        if not cache:
            return await self._fetch(url)
        hit = self._cache.get(url)
        if hit is not MISS:
            self._counts["cache_hits"] += 1
            return hit
        task = self._pending.get(url)
        if task is not None:
            self._counts["coalesced"] += 1
        else:
            task = asyncio.create_task(self._fetch(url))
            self._pending[url] = task
            task.add_done_callback(lambda done: self._settle(url, done))
        # shield: one caller giving up must not cancel the request the others wait on
        return await asyncio.shield(task)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> JsonValue | NotFound:
        """The decoded JSON answer to POSTing ``body``, for sources whose searches are POSTs
        that read (MLflow's ``runs/search``): retried, limited and broken like a GET, never
        cached. Raises like ``get_json``."""
        return await self._fetch(path, json.dumps(body).encode())

    def invalidate(self, url: str) -> None:
        """Forget ``url``'s cached answer; a request already in flight is not joined again."""
        self._cache.pop(url)
        self._pending.pop(url, None)

    def stats(self) -> dict[str, object]:
        """For ``mds status``. ``state``: the breaker, closed|open|half_open. Counters since
        start: ``requests`` sent, ``errors`` (5xx, transport errors, unexpected statuses),
        ``retries``, ``rate_limited`` (429s), ``not_found`` (404s), ``cache_hits``,
        ``coalesced`` (joined an identical GET in flight), ``unavailable`` (calls that raised
        ``SourceUnavailable``). Gauges: ``in_flight``, ``consecutive_failures``,
        ``cache_entries``. ``last_error``: the latest failure, or None."""
        return {
            "state": self._breaker.state,
            **self._counts,
            "in_flight": self._in_flight,
            "consecutive_failures": self._breaker.consecutive_failures,
            "cache_entries": len(self._cache),
            "last_error": self._last_error,
        }

    async def aclose(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()
        await self._transport.aclose()

    def _settle(self, url: str, task: asyncio.Task[JsonValue | NotFound]) -> None:
        if self._pending.get(url) is not task:
            return  # invalidated while in flight: its answer may predate the change
        del self._pending[url]
        if not task.cancelled() and task.exception() is None:
            self._cache.put(url, task.result())

    async def _fetch(self, url: str, body: bytes | None = None) -> JsonValue | NotFound:
        """``url`` read (a GET, or a POST of ``body``), retried on transient failures."""
        method = "GET" if body is None else "POST"
        attempts = self.policy.max_retries + 1
        for attempt in range(attempts):
            if attempt:
                self._counts["retries"] += 1
            try:
                response, answer = await self._send(url, body)
                return self._interpret(url, method, response, answer)
            except _Transient as exc:
                self._last_error = f"{method} {url}: {exc}"
                if attempt + 1 < attempts and self._hold_until <= self.clock():
                    await self._sleep(self._backoff(attempt))
        self._counts["unavailable"] += 1
        raise SourceUnavailable(
            f"{self.source}: {method} {url} failed after {attempts} attempts: {self._last_error}"
        )

    async def _send(self, url: str, body: bytes | None) -> tuple[httpx.Response, bytes]:
        if not self._breaker.enter():
            self._counts["unavailable"] += 1
            raise SourceUnavailable(
                f"{self.source}: circuit open after {self._breaker.consecutive_failures} "
                f"consecutive failures; next try in {self._breaker.retry_in():.1f}s "
                f"(last error: {self._last_error})"
            )
        try:
            await self._respect_hold(url)
            async with self._slots:
                await self._bucket.acquire()
                self._counts["requests"] += 1
                self._in_flight += 1
                try:
                    # the whole answer, not each read: a source trickling a byte at a
                    # time would otherwise hold the slot (and the unit) without end
                    async with asyncio.timeout(self.policy.timeout_seconds):
                        return await self._get(url, body)
                finally:
                    self._in_flight -= 1
        except httpx.RequestError as exc:  # timeouts, refused connections, broken streams
            self._failed()
            raise _Transient(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        except TimeoutError:
            self._failed()
            raise _Transient(
                f"no whole answer within timeout_seconds ({self.policy.timeout_seconds:g}s)"
            ) from None
        except BaseException:
            self._breaker.leave()
            raise

    async def _get(self, url: str, sent: bytes | None) -> tuple[httpx.Response, bytes]:
        """One GET (a POST of ``sent``, when given) straight through the transport: the response and its body, at most
        ``MAX_BODY_BYTES``. The connection goes back to the pool however the read ends.

        Not through ``httpx.AsyncClient``: its auth, redirect and cookie machinery, none of
        which a source read uses, cost 0.2-0.25 ms of CPU per request on loopback, a
        quarter of a fetch worker's time per event (``bench/e2e_bench.py``). A redirect is
        therefore an unexpected status, like any other 3xx."""
        request = httpx.Request(
            "GET" if sent is None else "POST",
            self._base_url + url,
            headers=_HEADERS if sent is None else _POST_HEADERS,
            content=sent,
            extensions=self._request_extensions,
        )
        response = await self._transport.handle_async_request(request)
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise InvalidPayload(
                        f"{self.source}: {request.method} {url}: body larger than {MAX_BODY_BYTES} bytes, "
                        "refusing this read"
                    )
        finally:
            await response.aclose()
        return response, bytes(body)

    def _interpret(
        self, url: str, method: str, response: httpx.Response, body: bytes
    ) -> JsonValue | NotFound:
        status = response.status_code
        if status >= 500 or status == 408:
            self._failed()
            self._hold(response)
            raise _Transient(f"HTTP {status}")
        self._breaker.success()  # anything below 500 means the source is up and answering
        if status == 429:
            self._counts["rate_limited"] += 1
            self._hold(response)
            raise _Transient("HTTP 429 Too Many Requests")
        if status in (404, 410):  # 410 Gone says "not any more" outright
            self._counts["not_found"] += 1
            return NotFound(url)
        if status >= 300:
            self._counts["errors"] += 1
            self._last_error = f"{method} {url}: HTTP {status}"
            if status in _CONNECTION_PROBLEMS:
                raise SourceUnavailable(
                    f"{self.source}: {method} {url} answered HTTP {status}; check the source's "
                    "base_url and access"
                )
            raise InvalidPayload(
                f"{self.source}: {method} {url} answered HTTP {status}, refusing this read; "
                "retrying will not help"
            )
        try:
            return json.loads(body)
        except ValueError as exc:  # not JSON, not UTF-8, or an integer of 4,300+ digits
            raise InvalidPayload(
                f"{self.source}: {method} {url}: body is not JSON ({exc})"
            ) from exc
        except RecursionError:
            raise InvalidPayload(
                f"{self.source}: {method} {url}: body is JSON nested too deeply to read"
            ) from None

    def _failed(self) -> None:
        self._counts["errors"] += 1
        self._breaker.failure()

    def _hold(self, response: httpx.Response) -> None:
        """Make every caller wait as long as the source asked in ``Retry-After``."""
        delay = _retry_after_seconds(response.headers.get("Retry-After"))
        if delay is not None:
            self._hold_until = max(self._hold_until, self.clock() + delay)

    async def _respect_hold(self, url: str) -> None:
        wait = self._hold_until - self.clock()
        if wait <= 0:
            return
        if wait > self.policy.backoff_max_seconds:
            self._counts["unavailable"] += 1
            raise SourceUnavailable(
                f"{self.source}: asked to wait {wait:.0f}s (Retry-After) before GET {url}"
            )
        await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        cap = min(self.policy.backoff_max_seconds, self.policy.backoff_base_seconds * 2**attempt)
        return self._jitter() * cap


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now, at most ``MAX_RETRY_AFTER_SECONDS``:
    delta-seconds or an HTTP date; None if unusable (``nan`` included)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


class HttpConnector(Connector):
    """A connector that reads its source over HTTP through one polite ``SourceClient``."""

    def __init__(
        self,
        policy: SourcePolicy,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(policy)
        self.client = SourceClient(
            self.source, policy, transport=transport, clock=clock, sleep=sleep
        )

    def stats(self) -> dict[str, object]:
        return self.client.stats()

    async def aclose(self) -> None:
        await self.client.aclose()
