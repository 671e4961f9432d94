"""The Feast poll: Feast has no change events, so mds reads the registry on an interval.

Each poll reads every unit with its ``last_updated`` (a view's includes its entities'),
compares it with the previous poll's, and announces the new, changed and vanished units
as thin events through the durable intake; only then is the snapshot saved, so a crash in
between repeats an announcement (harmless: events are hints) and never loses one. A
deleted object vanishes from the registry, and a rename is a deletion and a creation: both
are seen within one interval, and hydration answers ``Gone`` for what vanished. The
first poll (no snapshot) announces everything, which is how an existing registry is
imported.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mdsd.connectors.base import Connector
from mdsd.connectors.feast.connector import FeastConnector
from mdsd.connectors.feast.mapping import SOURCE, UNIT_EVENTS, id_parts
from mdsd.connectors.polling import Poller

log = logging.getLogger(__name__)

ORIGIN = "feast-poll"
STATE_FILE = "feast-poll.json"

Submit = Callable[[bytes, str], Awaitable[Any]]


def announcement(unit_id: str) -> dict[str, str]:
    """The thin event that makes mds re-read ``unit_id``."""
    kind, parts = id_parts(unit_id)
    return {"event_type": UNIT_EVENTS[kind], "project": parts[0], "name": parts[1]}


class Poll(Poller):
    """Polls one Feast registry; ``poll()`` once, or ``run()`` until cancelled."""

    def __init__(self, connector: FeastConnector, submit: Submit, state_path: Path) -> None:
        super().__init__("feast poll", state_path, connector.feast.poll_interval_seconds)
        self.connector = connector
        self.submit = submit
        #: unit id -> its last_updated (None when Feast gives none), as of the last poll
        self.seen: dict[str, str | None] = self._load()

    async def poll(self) -> int:
        """Announce what changed since the last poll; returns the number of events."""
        now = {u.id: u.updated_at for u in (await self.connector.current(fresh=True)).values()}
        changed = sorted(
            [
                unit
                for unit, token in now.items()
                if unit not in self.seen or self.seen[unit] != token
            ]
            + [unit for unit in self.seen if unit not in now]
        )
        if changed:
            events = [json.dumps(announcement(unit)).encode() for unit in changed]
            await self.submit(b"\n".join(events), ORIGIN)
        self.seen = now
        self.write_state({"registry": self.connector.feast.registry, "seen": self.seen})
        self.counted(len(changed), time.time())
        return len(changed)

    def stats(self) -> dict[str, object]:
        last = self.last_poll_at
        return {
            "interval_seconds": self.interval,
            "polls": self.polls,
            "announced": self.announced,
            "units": len(self.seen),
            "last_poll_at": datetime.fromtimestamp(last, UTC).isoformat() if last else None,
            "last_error": self.last_error,
        }

    # -- the persisted snapshot ---------------------------------------------------------------

    def _load(self) -> dict[str, str | None]:
        """The saved snapshot, unless it is of another registry (``registry`` changed)."""
        state = self.read_state()
        if state is None or state.get("registry") != self.connector.feast.registry:
            return {}
        seen = state.get("seen")
        if not isinstance(seen, dict):
            return {}
        return {str(k): v if isinstance(v, str) else None for k, v in seen.items()}


def feast_services(
    connectors: Mapping[str, Connector], submit: Submit, data_dir: Path
) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The background job ``[sources.feast]`` asks for, by task name: the poll, which hands
    what it finds to ``submit`` (the durable intake) and keeps its snapshot in
    ``data_dir``; its counters join the connector's in ``mds status``."""
    connector = connectors.get(SOURCE)
    if not isinstance(connector, FeastConnector):
        return {}
    poll = Poll(connector, submit, data_dir / STATE_FILE)
    connector.services["poll"] = poll.stats
    return {"feast-poll": poll.run}
