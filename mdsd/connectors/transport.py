"""The transport under every source client: httpx's API over aiohttp's connection pool.

Hydration makes one GET per event, so the client's cost per request bounds intake. Measured
on loopback against the simulator (``bench/e2e_bench.py``), httpx's default transport
(httpcore) spent 2.2-3.2 ms of CPU per request, most of it re-checking every pooled
connection for each request; the same ``httpx.AsyncClient`` over aiohttp's pool spends
0.6 ms. Connectors keep httpx's interface (requests, responses, ``MockTransport`` and ASGI
transports in tests); only the wire work changes hands.

``httpx_aiohttp`` maps aiohttp's common errors onto httpx's; the rest of ``ClientError``
(a malformed status line, say) becomes ``httpx.TransportError`` here, so a
source that misbehaves is retried like any other transient failure instead of escaping as
an error nobody handles.
"""

from __future__ import annotations

import functools
import ssl

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: each loads the CA bundle (~30 ms), and a
    daemon has a client per source in each of its processes."""
    return httpx.create_ssl_context()


class SourceTransport(AiohttpTransport):
    """``AiohttpTransport`` whose every failure is an ``httpx.RequestError``."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(verify=_tls_context(), limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc
