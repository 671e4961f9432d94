"""The source systems mds reads, by source key (contract section 1).

Adding a source: one module with a ``Connector`` subclass, one line in ``CONNECTORS``, and a
``[sources.KEY]`` table in the config. Event routing is derived from the connectors'
``events``, so there is no second table to keep in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mds.wire.model import parse_aip_id
from mdsd.connectors.base import (
    Connector,
    EventSpec,
    Gone,
    Hydrated,
    HydrationResult,
    InvalidPayload,
    Listed,
    Observed,
    SourceUnavailable,
)
from mdsd.connectors.datasets import DatasetsConnector
from mdsd.connectors.experiments import ExperimentsConnector
from mdsd.connectors.feast.connector import FeastConnector
from mdsd.connectors.featurestore import FeatureStoreConnector
from mdsd.connectors.identity import IdentityConnector
from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.orchestrator import OrchestratorConnector
from mdsd.connectors.policy import SourcePolicy
from mdsd.connectors.registry import RegistryConnector

CONNECTORS: dict[str, type[Connector]] = {
    cls.source: cls
    for cls in (
        RegistryConnector,
        OrchestratorConnector,
        FeatureStoreConnector,
        ExperimentsConnector,
        DatasetsConnector,
        IdentityConnector,
        MlflowConnector,
        FeastConnector,
    )
}


def _routes(connectors: Mapping[str, type[Connector]]) -> dict[str, tuple[str, EventSpec]]:
    routes: dict[str, tuple[str, EventSpec]] = {}
    for key, cls in connectors.items():
        for event_type, spec in cls.events.items():
            if event_type in routes:
                raise TypeError(
                    f"event_type {event_type!r} claimed by {routes[event_type][0]!r} and {key!r}"
                )
            routes[event_type] = (key, spec)
    return routes


#: event_type -> (source key, what the event names)
EVENT_ROUTES: Mapping[str, tuple[str, EventSpec]] = _routes(CONNECTORS)


def build_connectors(policies: Mapping[str, SourcePolicy]) -> dict[str, Connector]:
    """One connector per configured source; an unknown key is an error that names it."""
    unknown = sorted(set(policies) - set(CONNECTORS))
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}; known: {', '.join(CONNECTORS)}")
    return {key: CONNECTORS[key](policy) for key, policy in policies.items()}


__all__ = [
    "CONNECTORS",
    "EVENT_ROUTES",
    "Connector",
    "EventSpec",
    "Gone",
    "Hydrated",
    "HydrationResult",
    "InvalidPayload",
    "Listed",
    "Observed",
    "SourcePolicy",
    "SourceUnavailable",
    "build_connectors",
]


@dataclass(frozen=True, slots=True)
class UnitOf:
    """The hydration unit of an aip id, when its source is one of ``sources`` (the
    configured ones); None otherwise, or for a malformed id. A value that pickles: the
    daemon hands it to its read worker processes."""

    sources: frozenset[str]

    def __call__(self, xid: str) -> str | None:
        try:
            source = parse_aip_id(xid).source
        except ValueError:
            return None
        return CONNECTORS[source].unit_of(xid) if source in self.sources else None
