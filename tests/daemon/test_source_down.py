"""A source that is down: the work waits with backoff and the entity page says why."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mds.client import Client
from mdsd.api.rest import create_app
from mdsd.config import Config, DaemonConfig, EnrichmentConfig
from mdsd.connectors.policy import SourcePolicy
from mdsd.daemon import Daemon

MODEL = "aip://model/registry/ranking-model"


async def test_failing_hydration_is_retried_and_visible_on_the_entity(tmp_path: Path) -> None:
    down = SourcePolicy(base_url="http://127.0.0.1:9", max_retries=0, timeout_seconds=1.0)
    config = Config(
        daemon=DaemonConfig(data_dir=str(tmp_path / "data"), socket=str(tmp_path / "s.sock")),
        sources={"registry": down},
        enrichment=EnrichmentConfig(retry_seconds=60.0),
    )
    daemon = Daemon(config)
    await daemon.start()
    try:
        async with Client(app=create_app(daemon.api)) as client:
            answer = await client.ingest(
                b'{"event_type": "model_created", "model_id": "ranking-model"}'
            )
            assert answer["accepted"] == 1
            for _ in range(200):
                if daemon.hydrator.stats.failures:
                    break
                await asyncio.sleep(0.02)
            shown = await client.entity(MODEL)
            assert shown["status"] == "stub"
            assert shown["hydration"]["failures"] == 1
            assert "registry" in shown["hydration"]["last_error"]
            assert shown["hydration"]["next_attempt_at"] is not None
            status = await client.status()
            assert status["pending"] == 1, "the event waits in the journal, not lost"
            assert [u["unit"] for u in status["failing_units"]] == [MODEL]
    finally:
        await daemon.stop()
