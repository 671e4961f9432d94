"""The daemon's configuration: one TOML file, loaded into typed dataclasses by pyserde.

Unknown keys and wrong types are errors that name the key and the file, so a typo never
silently falls back to a default. ``config.example.toml`` documents every key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serde import SerdeError, disabled, from_dict, serde

from mds.wire.paths import DEFAULT_DATA_DIR, DEFAULT_SOCKET, XDG_DEFAULTS
from mdsd.api.settings import ApiConfig
from mdsd.base.bounds import check_minimums
from mdsd.base.logs import LOG_LEVELS
from mdsd.connectors.feast.settings import FeastPolicy
from mdsd.connectors.mlflow.settings import MlflowConfig
from mdsd.connectors.openlineage.settings import OpenLineageConfig
from mdsd.connectors.policy import SourcePolicy
from mdsd.enrichment.settings import EnrichmentConfig, ReconcileConfig
from mdsd.intake.buses.settings import IntakeConfig
from mdsd.replication.settings import ReplicaConfig, ReplicationConfig

# Checked by ``_problems`` with messages that name the key; serde only builds the objects.
serde(SourcePolicy, deny_unknown_fields=True, type_check=disabled)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message says where."""


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class DaemonConfig:
    #: ``$XDG_DATA_HOME/mds``: ``~/.local/share/mds`` while XDG_DATA_HOME is not set
    data_dir: str = DEFAULT_DATA_DIR
    #: with a variable that is not set (or empty), ``{data_dir}/run/mdsd.sock``; so is ""
    socket: str = DEFAULT_SOCKET
    log_level: str = "info"
    #: hydrations in flight at once, across all sources (each source has its own limit too)
    workers: int = 64
    #: worker processes that read the sources (HTTP and normalization), beside the process
    #: that writes facts and answers queries; 0 reads in the daemon process itself
    hydration_processes: int = 2
    #: fsync the fact log and intake journal on every write (power-loss safe, slower);
    #: without it a process crash still loses nothing acknowledged
    fsync: bool = False
    #: decoded entities kept in memory (and as many reverse-reference lists): reads of a
    #: cached entity skip RocksDB; each costs about 3 KB, so 100,000 hold ~300 MB at most.
    #: While read workers answer the reads (``[api] read_processes``), the daemon's own
    #: process keeps at most 10,000 (``mdsd.daemon.WRITE_PATH_CACHE_ENTITIES``)
    cache_entities: int = 100_000
    #: external ids kept in memory with their internal ids, about 250 bytes each
    cache_ids: int = 500_000
    #: RocksDB's cache of uncompressed blocks, which serves the reads the above misses
    #: (with read workers, the daemon's own process keeps at most 32 MB of it)
    block_cache_mb: int = 256
    #: seconds the daemon must be quiet before it hands memory freed after a spike back to
    #: the system (glibc's malloc_trim); 0 never does
    memory_trim_idle_seconds: float = 10.0

    def __post_init__(self) -> None:
        unset = expand_path(self.data_dir)[1]
        if unset:
            raise ValueError(
                f"daemon.data_dir {self.data_dir!r} uses ${unset[0]}, which is not set"
            )
        if self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(
                f"daemon.log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.workers < 1:
            raise ValueError(f"daemon.workers must be >= 1, got {self.workers}")
        if self.hydration_processes < 0:
            raise ValueError(
                f"daemon.hydration_processes must be >= 0 (0 reads in the daemon process), "
                f"got {self.hydration_processes}"
            )
        check_minimums(
            self,
            {
                "cache_entities": 1,
                "cache_ids": 1,
                "block_cache_mb": 1,
                "memory_trim_idle_seconds": 0,
            },
            table="daemon.",
        )


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class SearchConfig:
    #: how often new facts become visible to search (one index commit per interval; each
    #: commit costs CPU, so shorter means fresher search and slower bulk ingestion)
    commit_interval_ms: int = 1000
    #: memory each search index's writer buffers documents in before it writes a segment
    #: (two indexes: entities and owners); tantivy needs at least 15
    writer_heap_mb: int = 64

    def __post_init__(self) -> None:
        check_minimums(self, {"commit_interval_ms": 1, "writer_heap_mb": 15}, table="search.")


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class Config:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    sources: dict[str, SourcePolicy] = field(default_factory=dict)
    enrichment: EnrichmentConfig = field(default_factory=EnrichmentConfig)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    openlineage: OpenLineageConfig = field(default_factory=OpenLineageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    #: publish every committed transaction to Kafka (docs/replication.md); off when absent
    replication: ReplicationConfig | None = None
    #: ``mdsd replica``: follow a primary's transactions from Kafka (docs/replication.md)
    replica: ReplicaConfig | None = None

    def __post_init__(self) -> None:
        if self.replication is not None and self.replica is not None:
            raise ValueError(
                "[replication] and [replica] cannot both be set: a replica publishes nothing; "
                "its primary does"
            )

    @property
    def data_dir(self) -> Path:
        return expand_path(self.daemon.data_dir)[0]

    @property
    def socket_path(self) -> Path:
        """The configured socket; falls back to data_dir (contract 2.1) when it names a
        variable that is not set, as the default does without ``XDG_RUNTIME_DIR``."""
        path, unset = expand_path(self.daemon.socket or DEFAULT_SOCKET)
        return self.data_dir / "run" / "mdsd.sock" if unset else path


_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


def expand_path(text: str) -> tuple[Path, list[str]]:
    """``text`` with ``~`` and ``$VAR``/``${VAR}`` expanded, and the variables left as
    written because they are not set (or empty: "$XDG_RUNTIME_DIR/mds" must not be "/mds").
    ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME`` unset are the XDG spec's defaults for them."""
    unset: list[str] = []

    def value(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        if not os.environ.get(name) and name in XDG_DEFAULTS:
            return str(Path(XDG_DEFAULTS[name]).expanduser())
        if not os.environ.get(name):
            unset.append(name)
            return found.group(0)
        return os.environ[name]

    return Path(_VARIABLE.sub(value, text)).expanduser(), unset


_SCALARS: dict[type, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def _optional(hint: Any) -> Any:
    """``X | None`` -> ``X``: an optional table or key is checked as ``X`` when present."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(present) == 1:
            return present[0]
    return hint


#: keys that were moved, with where they went: an old config is told what to write instead
MOVED = {
    "daemon.tcp_port": 'daemon.tcp_port is gone: serve TCP with [api] listen = "127.0.0.1:PORT" '
    "(every TCP request needs a token: see `mdsd token create`)",
}


def _problems(cls: type, table: dict[str, Any], where: str) -> list[str]:
    """What is wrong with ``table`` as ``cls``: unknown keys and wrong types, by dotted key.

    Integers are accepted where a number is expected (``30`` for ``30.0``) and converted in
    place, as a TOML author would expect. TOML has ``inf`` and ``nan``; no key means
    anything by them (an endless timeout or interval is a hang), so a number must be finite.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    problems: list[str] = []
    for key, value in table.items():
        path = f"{where}{key}"
        if key not in known:
            problems.append(
                MOVED.get(path) or f"unknown key {path!r} (known: {', '.join(sorted(known))})"
            )
            continue
        hint = _optional(hints[key])
        if dataclasses.is_dataclass(hint):
            if isinstance(value, dict):
                problems += _problems(hint, value, f"{path}.")  # type: ignore[arg-type]
            else:
                problems.append(f"{path!r} must be a table")
        elif typing.get_origin(hint) is dict and typing.get_args(hint)[1] in _SCALARS:
            item = typing.get_args(hint)[1]
            if not isinstance(value, dict) or not all(isinstance(v, item) for v in value.values()):
                problems.append(f"{path!r} must be a table, each value {_SCALARS[item]}")
        elif typing.get_origin(hint) is dict:
            item = typing.get_args(hint)[1]
            if not isinstance(value, dict):
                problems.append(f"{path!r} must be a table")
                continue
            for name, sub in value.items():
                if isinstance(sub, dict):
                    problems += _problems(item, sub, f"{path}.{name}.")
                else:
                    problems.append(f"{path}.{name!r} must be a table")
        elif typing.get_origin(hint) is list and typing.get_args(hint)[0] in _SCALARS:
            item = typing.get_args(hint)[0]
            if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
                problems.append(f"{path!r} must be a list, each {_SCALARS[item]}, got {value!r}")
        elif hint in _SCALARS:
            if hint is float and isinstance(value, int) and not isinstance(value, bool):
                table[key] = float(value)
            elif hint is float and isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{path!r} must be a finite number, got {value!r}")
            elif not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                problems.append(f"{path!r} must be {_SCALARS[hint]}, got {value!r}")
    return problems


def _policy_type(key: str) -> type[SourcePolicy]:
    """The table type of ``[sources.KEY]``: its connector's, or an HTTP source's for a key
    no connector has (reported as unknown once the tables are checked)."""
    from mdsd.connectors import CONNECTORS

    connector = CONNECTORS.get(key)
    return connector.policy_type if connector is not None else SourcePolicy


def _required(cls: type, name: str) -> bool:
    """Whether the dataclass ``cls`` has no default for the field ``name``."""
    found = next(f for f in dataclasses.fields(cls) if f.name == name)
    return found.default is dataclasses.MISSING and found.default_factory is dataclasses.MISSING


def parse_config(text: str, origin: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from exc
    from mdsd.connectors import CONNECTORS

    sources = raw.pop("sources", {})
    problems = _problems(Config, raw, "")
    if not isinstance(sources, dict):
        problems.append("'sources' must be a table")
        sources = {}
    for key, table in sources.items():  # each source's table is its connector's policy type
        if isinstance(table, dict):
            problems += _problems(_policy_type(key), table, f"sources.{key}.")
        else:
            problems.append(f"sources.{key!r} must be a table")
    if problems:
        raise ConfigError(f"{origin}: " + "; ".join(problems))
    policies: dict[str, SourcePolicy] = {}
    for key, table in sources.items():  # a policy's reason, with its table
        policy_type = _policy_type(key)
        if "base_url" not in table and _required(policy_type, "base_url"):
            raise ConfigError(f"{origin}: [sources.{key}] needs base_url, the source's URL")
        try:
            policies[key] = from_dict(policy_type, table)
        except (SerdeError, ValueError, TypeError) as exc:
            raise ConfigError(f"{origin}: [sources.{key}] {exc}") from exc
    try:
        config = from_dict(Config, raw)
    except (SerdeError, ValueError, TypeError) as exc:
        raise ConfigError(f"{origin}: {exc}") from exc
    config.sources = policies
    unknown_sources = sorted(set(config.sources) - set(CONNECTORS))
    if unknown_sources:
        raise ConfigError(
            f"{origin}: no connector for source(s) {', '.join(unknown_sources)}; "
            f"known sources: {', '.join(sorted(CONNECTORS))}"
        )
    maps = {"[openlineage.namespaces]": config.openlineage.namespaces}
    maps.update(
        {
            f"[sources.{key}] namespaces": policy.namespaces
            for key, policy in policies.items()
            if isinstance(policy, FeastPolicy)
        }
    )
    for where, namespaces in maps.items():
        for namespace, source in namespaces.items():
            if source not in CONNECTORS:
                raise ConfigError(
                    f"{origin}: {where} {namespace!r} names no source {source!r}; "
                    f"known sources: {', '.join(sorted(CONNECTORS))}"
                )
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    location = Path(path).expanduser()
    try:
        text = location.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {location}: {exc.strerror}") from exc
    return parse_config(text, str(location))
