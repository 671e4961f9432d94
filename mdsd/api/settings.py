"""The ``[api]`` config table: what the API lets one request cost.

``mdsd.config`` assembles the whole file from the rooms' tables; the API is handed this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from serde import disabled, serde

from mdsd.base.bounds import check_minimums
from mdsd.reads.cost import ReadLimits


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ApiConfig:
    #: records one read may visit, repeats counted (a REST query, or a whole GraphQL request)
    read_visits: int = 500_000
    #: seconds one read may run before it is stopped with an error
    read_timeout_seconds: float = 10.0
    #: worker processes that answer the reads (REST queries and GraphQL), so that no read
    #: shares the interpreter lock with intake; 0 reads on threads of the daemon's process
    read_processes: int = 2

    def __post_init__(self) -> None:
        check_minimums(
            self,
            {"read_visits": 1, "read_timeout_seconds": 0, "read_processes": 0},
            strict={"read_timeout_seconds"},
            table="api.",
        )

    def read_limits(self) -> ReadLimits:
        return ReadLimits(visits=self.read_visits, seconds=self.read_timeout_seconds)
