"""The ``[sources.feast]`` table: which Feast registry to follow, and how often.

A Feast registry is read with Feast's own SDK, not over HTTP, so its policy names the
registry instead of a ``base_url``; the limits it inherits (``concurrency``,
``timeout_seconds``, ``cache_ttl_seconds``) bound the reads of it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from serde import disabled, serde

from mdsd.connectors.policy import SourcePolicy

#: URL schemes of registries Feast keeps as one file (local, or in object storage);
#: any other scheme is a SQLAlchemy URL, a SQL registry
FILE_SCHEMES = frozenset({"", "file", "gs", "s3", "az"})


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class FeastPolicy(SourcePolicy):
    """How mds follows one Feast registry."""

    #: not used: Feast is read through its registry, never a URL of mds's choosing
    base_url: str = ""
    #: the registry ``feast apply`` writes: a file path (``data/registry.db``, ``s3://...``)
    #: or a SQL registry's SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``)
    registry: str = ""
    #: the Feast projects to follow; empty follows every project in the registry
    projects: list[str] = field(default_factory=list)
    #: read the registry this often and announce what changed since the last read
    poll_interval_seconds: float = 30.0
    #: a data source's namespace (``file``, ``bigquery``, ``snowflake``, ... as in
    #: OpenLineage) -> the source key that owns its tables: such a source is that source's
    #: Dataset (``aip://dataset/{key}/{table}``), not one of Feast's own
    namespaces: dict[str, str] = field(default_factory=dict)

    def check_location(self) -> None:
        if self.base_url:
            raise ValueError("reads a Feast registry: set registry, not base_url")
        if not self.registry:
            raise ValueError("needs registry, the path or URL of the Feast registry")
        if self.poll_interval_seconds <= 0:
            raise ValueError(f"poll_interval_seconds must be > 0, got {self.poll_interval_seconds}")

    @property
    def is_sql(self) -> bool:
        """Whether ``registry`` is a SQL registry (a SQLAlchemy URL) rather than a file."""
        return urlsplit(self.registry).scheme.partition("+")[0] not in FILE_SCHEMES
