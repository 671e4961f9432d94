"""The daemon's own fact-store caches: at the read sizes when it answers the reads, capped
when read workers (with caches of their own) do, so a big load cannot fill them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdsd.api.settings import ApiConfig
from mdsd.config import Config, DaemonConfig
from mdsd.daemon import WRITE_PATH_CACHE_ENTITIES, Daemon


@pytest.mark.parametrize(
    ("read_processes", "expected"), [(0, 50_000), (1, WRITE_PATH_CACHE_ENTITIES)]
)
async def test_the_daemons_entity_cache_is_sized_by_who_reads(
    tmp_path: Path, read_processes: int, expected: int
) -> None:
    config = Config(
        daemon=DaemonConfig(
            data_dir=str(tmp_path / "data"),
            socket=str(tmp_path / "s.sock"),
            cache_entities=50_000,
            hydration_processes=0,
        ),
        api=ApiConfig(read_processes=read_processes),
    )
    daemon = Daemon(config)
    await daemon.start()
    try:
        store = daemon.store
        for cache in (store.entity_cache, store.links_cache):
            for e in range(1, 60_001):
                cache.put(e, None, cache.generation())
            assert expected * 0.9 <= len(cache) <= expected
    finally:
        await daemon.stop()
