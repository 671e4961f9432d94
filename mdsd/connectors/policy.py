"""How mds treats one source: its ``[sources.KEY]`` config table, checked when built.

Apart from the HTTP client so that a ``Connector`` (every connector is built from its policy)
and the config can name it without the client that enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mdsd.base.bounds import check_minimums

__all__ = ["SourcePolicy"]


@dataclass
class SourcePolicy:
    """How mds treats one source: the ``[sources.KEY]`` config table."""

    base_url: str
    concurrency: int = 8
    #: A backfill reads each entity once, so this paces it: 3,540 events of which 1,635 from
    #: one source took 41 s at 50/s and 13 s at 200/s. ``concurrency`` bounds the load too.
    rate_per_second: float = 200.0
    burst: int = 50
    timeout_seconds: float = 10.0
    max_retries: int = 5
    backoff_base_seconds: float = 0.2
    backoff_max_seconds: float = 30.0
    breaker_failures: int = 10
    breaker_reset_seconds: float = 30.0
    cache_ttl_seconds: float = 5.0
    cache_max_entries: int = 10000

    def __post_init__(self) -> None:
        self.check_location()
        minimums: dict[str, float] = {
            "concurrency": 1,
            "rate_per_second": 0,
            "burst": 1,
            "timeout_seconds": 0,
            "max_retries": 0,
            "backoff_base_seconds": 0,
            "backoff_max_seconds": 0,
            "breaker_failures": 1,
            "breaker_reset_seconds": 0,
            "cache_ttl_seconds": 0,
            "cache_max_entries": 0,
        }
        check_minimums(self, minimums, strict={"rate_per_second", "timeout_seconds"})

    def check_location(self) -> None:
        """Where the source is read: an HTTP API here; a source read otherwise (a Feast
        registry) says so in its own policy."""
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
