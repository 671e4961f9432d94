"""Fixtures for connector tests; the fakes themselves live in ``connector_fakes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from connector_fakes import BASE, FakeSource, FakeTime

from mdsd.connectors.http import SourceClient
from mdsd.connectors.policy import SourcePolicy


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Callable[..., SourceClient]:
    """A SourceClient on fake time with deterministic jitter (always the full backoff)."""

    def make(source: FakeSource, **policy: Any) -> SourceClient:
        return SourceClient(
            "test",
            SourcePolicy(base_url=BASE, **policy),
            transport=source.transport,
            clock=fake_time.clock,
            sleep=fake_time.sleep,
            jitter=lambda: 1.0,
        )

    return make
