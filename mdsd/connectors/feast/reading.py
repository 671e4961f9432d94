"""Reading a Feast registry whole, through Feast's own registry classes.

Feast's SDK is the ``mds[feast]`` extra: it is imported here, when a ``[sources.feast]``
connector first reads, so a daemon without Feast configured never loads it (it costs
about 5 s and pandas). What is read is the registry's protobuf (``RegistryProto``), not
Feast's Python objects: turning an on-demand view back into one unpickles its function,
which needs the Feast repo's own modules, and mds has only the registry.
"""

from __future__ import annotations

import threading
from typing import Any

from mdsd.connectors.base import SourceUnavailable
from mdsd.connectors.feast.settings import FeastPolicy

INSTALL_HINT = "[sources.feast] needs Feast's SDK: pip install 'mds[feast]'"


class RegistryReader:
    """One Feast registry, opened once and read afresh on every ``read``. Thread-safe:
    reads run on worker threads, off the event loop (SQLAlchemy and file reads block)."""

    def __init__(self, policy: FeastPolicy) -> None:
        self.policy = policy
        self._registry: Any = None
        self._lock = threading.Lock()

    def read(self) -> Any:
        """The registry's ``RegistryProto`` now. Raises ``SourceUnavailable`` when Feast is
        not installed or the registry cannot be read."""
        with self._lock:
            try:
                registry = self._opened()
                if not self.policy.is_sql:
                    registry.refresh()  # a file registry serves its cache otherwise
                return registry.proto()
            except SourceUnavailable:
                raise
            except Exception as exc:  # SQLAlchemy, protobuf, file and object-store errors
                raise SourceUnavailable(
                    f"feast registry {self.policy.registry}: {type(exc).__name__}: {exc}"
                ) from exc

    def _opened(self) -> Any:
        if self._registry is None:
            try:
                from feast.infra.registry.registry import Registry
                from feast.infra.registry.sql import SqlRegistry, SqlRegistryConfig
                from feast.repo_config import RegistryConfig
            except ImportError as exc:
                raise SourceUnavailable(f"{INSTALL_HINT} ({exc})") from exc
            path = self.policy.registry
            # project None: the registry of every project (Feast's own typing says str); a
            # cache ttl of 0 would mean "cache forever", so 1 s, and each read refreshes
            if self.policy.is_sql:
                sql = SqlRegistryConfig(
                    registry_type="sql", path=path, cache_ttl_seconds=1, schema_mode="verify"
                )
                self._registry = read_only(SqlRegistry)(sql, None, None)
            else:
                config = RegistryConfig(path=path, cache_ttl_seconds=1)
                self._registry = Registry(None, config, None)  # type: ignore[arg-type]
        return self._registry


def read_only(sql_registry: type[Any]) -> type[Any]:
    """Feast's ``SqlRegistry`` without the writes its constructor makes: it records a
    project's metadata (for project None, a row that later opens a project named None)
    and copies metadata into the projects table. mds only reads; ``schema_mode="verify"``
    keeps it from creating tables too, so a registry not yet applied is an error."""

    class ReadOnlySqlRegistry(sql_registry):
        def _maybe_init_project_metadata(self, project: str | None) -> None:
            return None

        def _sync_feast_metadata_to_projects_table(self) -> None:
            return None

    return ReadOnlySqlRegistry
