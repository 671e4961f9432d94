"""The generated organisation the simulator serves, and how it lives.

``World`` is the organisation (``simulator.organisation``: its records and the operations
that change them), generated with a year of history (``simulator.generate``) and changed one
realistic step at a time (``simulator.mutations``).
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from simulator.generate import populate
from simulator.lineage import NAMESPACES, landing_runs, run_events
from simulator.mutations import apply_one
from simulator.organisation import Organisation
from simulator.records import Event

__all__ = ["World"]


class World(Organisation):
    """The organisation: every source's records, the clock, and the operations that change them.

    ``World.generate(size, seed)`` builds one; ``mutate()`` changes it one realistic step at a
    time; ``truth()`` is the ground truth tests compare the daemon against. Not thread-safe:
    the simulator changes and serves it from one event loop.

    Its history is dated: generated records carry the past dates they were created and
    changed on (2024 to ``EPOCH``, New Year's morning 2025), so a daemon can answer for any
    moment of it. Changes then follow the world's own clock, a few minutes a step from
    ``EPOCH`` (deterministic: what a seed gives is always the same), or once ``go_live()``
    has been called, the wall clock: a served world changes now.

    Part of it speaks OpenLineage (``simulator.lineage``): the jobs landing raw datasets'
    partitions send run events, among the thin events, and the truth lists their runs.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        #: where a live world's clock comes from (Unix seconds); None: the world's own
        self.wall_clock: Callable[[], float] | None = None

    @classmethod
    def generate(cls, size: int = 1000, seed: int = 0) -> World:
        """A world of about ``size`` entities (records, dataset versions and test cells)."""
        world = cls(seed)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # generation only allocates; cycle scans would triple its time
        try:
            populate(world, size)
        finally:
            if gc_was_enabled:
                gc.enable()
        return world

    def initial_events(self) -> Iterator[Event]:
        """One thin event per live entity, then the OpenLineage events of every landing run
        so far: a daemon fed these knows the whole world."""
        yield from super().initial_events()
        for run in landing_runs(self._records["datasets"].values()):
            yield from run_events(run)

    def truth(self) -> dict[str, Any]:
        """The records' truth, and ``lineage``: the namespaces a daemon maps
        (``[openlineage.namespaces]``) and the landing runs its events describe."""
        truth = super().truth()
        truth["lineage"] = {
            "namespaces": dict(NAMESPACES),
            "runs": list(landing_runs(self._records["datasets"].values())),
        }
        return truth

    def counts(self) -> dict[str, int]:
        """The records' counts, and the entities the landing runs' events make: the runs,
        their jobs, and the topics they read."""
        counts = super().counts()
        runs = list(landing_runs(self._records["datasets"].values()))
        counts["lineage-runs"] = len(runs)
        counts["lineage-jobs"] = len({run["job"]["name"] for run in runs})
        counts["lineage-datasets"] = len(
            {(read["namespace"], read["name"]) for run in runs for read in run["inputs"]}
        )
        return counts

    def truth_json(self) -> bytes:
        """``truth()`` as JSON (``GET /_truth``)."""
        return json.dumps(self.truth(), separators=(",", ":")).encode()

    def mutate(self, rng: random.Random | None = None) -> list[Event]:
        """Advance the clock and apply one realistic change; the events it implies.

        ``rng`` picks which change and what it touches (the world's own by default).
        """
        rng = rng or self.rng
        step = rng.randint(30, 600)  # drawn live or not: what changes depends on the seed alone
        if self.wall_clock is None:
            self.now += step
        else:  # never backwards: the sources' updated_at must not go back
            self.now = max(self.now, int(self.wall_clock()))
        return apply_one(self, rng, self.now)

    def go_live(self, clock: Callable[[], float] = time.time) -> None:
        """Date every later change by ``clock`` (the wall clock) instead of the world's own."""
        self.wall_clock = clock

    def mutate_many(self, n: int) -> list[Event]:
        """``n`` mutations; all their events, in order."""
        return [event for _ in range(n) for event in self.mutate()]
