"""The config file: every documented key loads, mistakes name the key and the file."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdsd.config import Config, ConfigError, _optional, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_with_every_source() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert set(config.sources) == {
        "registry",
        "orchestrator",
        "featurestore",
        "experiments",
        "datasets",
        "identity",
    }
    assert config.enrichment.interval_seconds == 30.0
    assert config.reconcile.interval_seconds == 240.0


def test_empty_config_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    config = parse_config("")
    assert config.socket_path == tmp_path / "mds" / "mdsd.sock"
    assert config.sources == {}


def test_socket_falls_back_to_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    config = parse_config('[daemon]\ndata_dir = "/srv/mds"\n')
    assert config.socket_path == Path("/srv/mds/run/mdsd.sock")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[daemon]\nworkerz = 3\n", "unknown key 'daemon.workerz'"),
        (
            '[sources.registry]\nbase_url = "http://x"\nrate = 3\n',
            "unknown key 'sources.registry.rate'",
        ),
        ("[nonsense]\n", "unknown key 'nonsense'"),
        ('[enrichment]\ninterval_seconds = "soon"\n', "interval_seconds"),
        (
            '[sources.registry]\nbase_url = "127.0.0.1:8701"\n',
            "[sources.registry] base_url must start with http",
        ),
        (
            '[sources.identity]\nbase_url = "http://x"\nrate_per_second = 0\n',
            "[sources.identity] rate_per_second must be > 0, got 0.0",
        ),
        (
            '[sources.datasets]\nbase_url = "http://x"\nconcurrency = -2\n',
            "[sources.datasets] concurrency must be >= 1, got -2",
        ),
        (
            '[sources.registry]\nbase_url = "http://x"\ntimeout_seconds = nan\n',
            "'sources.registry.timeout_seconds' must be a finite number, got nan",
        ),
        (
            '[sources.registry]\nbase_url = "http://x"\ntimeout_seconds = inf\n',
            "'sources.registry.timeout_seconds' must be a finite number, got inf",
        ),
        (
            '[sources.orchestrator]\nbase_url = "http://x"\nbackoff_max_seconds = -inf\n',
            "'sources.orchestrator.backoff_max_seconds' must be a finite number, got -inf",
        ),
        ("[reconcile]\ninterval_seconds = inf\n", "'reconcile.interval_seconds' must be a finite"),
        ("[mlflow]\nwebhook_max_age_seconds = inf\n", "'mlflow.webhook_max_age_seconds' must"),
        (
            '[sources.registry]\nbase_url = "http://x"\ncache_ttl_seconds = -1\n',
            "[sources.registry] cache_ttl_seconds must be >= 0, got -1.0",
        ),
        (
            "[enrichment]\ninterval_seconds = 0\n",
            "enrichment.interval_seconds must be > 0, got 0.0",
        ),
        ("[enrichment]\nretry_seconds = -5\n", "enrichment.retry_seconds must be > 0, got -5.0"),
        ("[enrichment]\nbatch_size = 0\n", "enrichment.batch_size must be >= 1, got 0"),
        ("[enrichment]\nstale_days = -1\n", "enrichment.stale_days must be >= 0, got -1"),
        ("[reconcile]\ninterval_seconds = 0\n", "reconcile.interval_seconds must be > 0, got 0.0"),
        ("[search]\ncommit_interval_ms = 0\n", "search.commit_interval_ms must be >= 1, got 0"),
        (
            "[daemon]\ntcp_port = 8080\n",
            'daemon.tcp_port is gone: serve TCP with [api] listen = "127.0.0.1:PORT"',
        ),
        (
            '[api]\nlisten = "0.0.0.0:8443"\n',
            "api.listen '0.0.0.0:8443' is not a loopback address, so it needs TLS: set api.tls_cert",
        ),
        ('[api]\nlisten = "mds.example.com:8443"\n', "is not a loopback address, so it needs TLS"),
        ('[api]\nlisten = "10.1.2.3:8443"\n', "is not a loopback address, so it needs TLS"),
        ('[api]\nlisten = "8443"\n', 'api.listen must be "HOST:PORT"'),
        ('[api]\nlisten = "127.0.0.1:99999"\n', 'api.listen must be "HOST:PORT"'),
        (
            '[api]\nlisten = "127.0.0.1:80"\ntls_cert = "c.pem"\n',
            "api.tls_cert and api.tls_key go together",
        ),
        (
            '[api]\ntls_cert = "c.pem"\ntls_key = "k.pem"\n',
            'api.tls_cert is set but api.listen is ""',
        ),
        ("[intake]\nmax_event_bytes = 0\n", "intake.max_event_bytes must be >= 1, got 0"),
        ('[sources.crm]\nbase_url = "http://x"\n', "no connector for source(s) crm"),
        ("[daemon\n", "not valid TOML"),
        ("[daemon]\nhydration_processes = -1\n", "daemon.hydration_processes must be >= 0"),
        ("[daemon]\nworkers = 0\n", "daemon.workers must be >= 1"),
        ("[daemon]\ncache_entities = 0\n", "daemon.cache_entities must be >= 1, got 0"),
        ("[daemon]\ncache_ids = 0\n", "daemon.cache_ids must be >= 1, got 0"),
        ("[daemon]\nblock_cache_mb = 0\n", "daemon.block_cache_mb must be >= 1, got 0"),
        (
            "[daemon]\nmemory_trim_idle_seconds = -1\n",
            "daemon.memory_trim_idle_seconds must be >= 0, got -1.0",
        ),
        ("[search]\nwriter_heap_mb = 8\n", "search.writer_heap_mb must be >= 15, got 8"),
        (
            '[daemon]\nlog_level = "verbose"\n',
            "daemon.log_level must be one of debug, info, warning, error, got 'verbose'",
        ),
        ("[sources.registry]\nconcurrency = 4\n", "[sources.registry] needs base_url"),
    ],
)
def test_mistakes_name_the_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mds.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:8443", "127.3.4.5:0", "[::1]:8443", "localhost:8443", "LOCALHOST:1"]
)
def test_plain_http_is_allowed_on_loopback(listen: str) -> None:
    config = parse_config(f'[api]\nlisten = "{listen}"\n')
    assert config.api.listen_address is not None and config.api.listen_address.loopback
    assert config.api.tls_files is None


def test_off_loopback_the_listener_takes_tls() -> None:
    config = parse_config(
        '[api]\nlisten = "0.0.0.0:8443"\ntls_cert = "~/c.pem"\ntls_key = "/k.pem"\n'
    )
    assert config.api.listen_address is not None
    assert str(config.api.listen_address) == "0.0.0.0:8443"
    assert config.api.tls_files == (str(Path("~/c.pem").expanduser()), "/k.pem")
    assert parse_config("").api.listen_address is None


def test_the_data_dir_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert parse_config("").data_dir == Path("/srv/data/mds")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert parse_config("").data_dir == Path("~/.local/share/mds").expanduser()
    monkeypatch.setenv("XDG_DATA_HOME", "")  # empty is unset, as the XDG spec says
    assert parse_config("").data_dir == Path("~/.local/share/mds").expanduser()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml")


def test_wrong_types_name_every_key_and_integers_count_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "mds.toml"
    path.write_text(
        '[sources.registry]\nbase_url = "http://x"\nconcurrency = "z"\nbackoff_base_seconds = 0\n'
        '[enrichment]\ninterval_seconds = "a"\n[daemon]\nfsync = 1\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "'sources.registry.concurrency' must be an integer, got 'z'" in message
    assert "'enrichment.interval_seconds' must be a number" in message
    assert "'daemon.fsync' must be true or false" in message
    assert "backoff_base_seconds" not in message
    path.write_text('[sources.registry]\nbase_url = "http://x"\nbackoff_base_seconds = 0\n')
    assert load_config(path).sources["registry"].backoff_base_seconds == 0.0


#: keys without a default that the example fills in with a sample value
REQUIRED = {"sources.registry.base_url", "intake.sqs.queue_url"}


def _example_keys() -> dict[str, object]:
    """Every ``key = value`` of config.example.toml, commented out or not, by dotted key."""
    table, found = "", {}
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        if header := re.match(r"#?\s*\[([\w.]+)\]\s*(?:#.*)?$", line):
            table = header.group(1)
        elif table and (pair := re.match(r"#?\s*(\w+)\s*=\s*(.*)$", line)):
            found[f"{table}.{pair.group(1)}"] = tomllib.loads(f"v = {pair.group(2)}")["v"]
    return found


def _defaults(cls: type, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Every key the config accepts with its default; ``[sources.*]`` as its registry table."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = _optional(hints[f.name])
        if dataclasses.is_dataclass(hint):
            yield from _defaults(hint, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        elif typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            yield from _defaults(typing.get_args(hint)[1], f"{prefix}{f.name}.registry.")
        elif f.default is not dataclasses.MISSING:
            yield f"{prefix}{f.name}", f.default
        elif f.default_factory is not dataclasses.MISSING:
            yield f"{prefix}{f.name}", f.default_factory()
        else:
            yield f"{prefix}{f.name}", None


def test_the_example_documents_every_key_with_its_default() -> None:
    """config.example.toml "documents every key with its default" (contract 2.1)."""
    example, code = _example_keys(), dict(_defaults(Config))
    assert sorted(set(code) - set(example)) == [], "keys missing from config.example.toml"
    extra = {k for k in set(example) - set(code) if not k.startswith("sources.")}
    assert sorted(extra) == [], "config.example.toml shows keys the config does not accept"
    wrong = {k: (example[k], v) for k, v in code.items() if k not in REQUIRED and example[k] != v}
    assert wrong == {}, "config.example.toml (shown, default) disagree"
