"""The ``[enrichment]`` and ``[reconcile]`` config tables, owned by the room that reads them.

``mdsd.config`` assembles the whole file from these; the enrichment loop and the
reconciler are handed their own table and never see the rest of the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from serde import disabled, serde

from mdsd.base.bounds import check_minimums


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class EnrichmentConfig:
    interval_seconds: float = 30.0
    #: stubs and unresolved references hydrated per pass
    batch_size: int = 1000
    #: entities not refreshed for this long are reported stale
    stale_days: int = 7
    #: a failed stub hydration is retried after this, doubling up to 1 hour
    retry_seconds: float = 30.0

    def __post_init__(self) -> None:
        check_minimums(
            self,
            {"interval_seconds": 0, "batch_size": 1, "stale_days": 0, "retry_seconds": 0},
            strict={"interval_seconds", "retry_seconds"},
            table="enrichment.",
        )


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ReconcileConfig:
    #: a lost event's change is seen within this and one pass's length (about 5 minutes)
    interval_seconds: float = 240.0
    #: run one pass right after start-up
    on_start: bool = False
    #: how far a source's clock may be from ours: a unit whose listing carries a time but
    #: whose payload does not is trusted as read only this long after that time
    clock_skew_seconds: float = 300.0

    def __post_init__(self) -> None:
        check_minimums(
            self,
            {"interval_seconds": 0, "clock_skew_seconds": 0},
            strict={"interval_seconds"},
            table="reconcile.",
        )
