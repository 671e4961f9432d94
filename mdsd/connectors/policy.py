"""How mds treats one source: its ``[sources.KEY]`` config table, checked when built.

Apart from the HTTP client so that a ``Connector`` (every connector is built from its policy)
and the config can name it without the client that enforces it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import quote

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
    #: where a person sees an entity in the source's own UI, from ``{kind}``,
    #: ``{native_id}`` and ``{name}`` (``https://registry.example.com/{kind}/{native_id}``);
    #: empty: the source's built-in link, if it has one (MLflow's UI), else none
    ui_url: str = ""

    def __post_init__(self) -> None:
        self.check_location()
        self.check_ui_url()
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

    def check_ui_url(self) -> None:
        """A template naming a placeholder there is none of is refused where it is read."""
        if not self.ui_url:
            return
        try:
            filled = self.ui_url.format(kind="k", native_id="n", name="n")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"ui_url may name {{kind}}, {{native_id}} and {{name}}; {self.ui_url!r}: {exc!r}"
            ) from None
        if not filled.startswith(("http://", "https://")):
            raise ValueError(f"ui_url must start with http:// or https://, got {self.ui_url!r}")

    def ui_link(self, kind: str, native_id: str, name: str | None) -> str | None:
        """The ``ui_url`` filled for one entity (the id and name made safe for a URL)."""
        if not self.ui_url:
            return None
        safe = functools.partial(quote, safe="/@:")
        return self.ui_url.format(kind=kind, native_id=safe(native_id), name=safe(name or ""))

    def check_location(self) -> None:
        """Where the source is read: an HTTP API here; a source read otherwise (a Feast
        registry) says so in its own policy."""
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
