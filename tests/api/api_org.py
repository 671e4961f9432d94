"""A real ``Daemon`` hydrating a simulated platform, queried in-process through
``Client(app=create_app(daemon.api))`` or served on a real Unix socket (``serving``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_world import Truth, jsonl

from mds.client import Client
from mdsd.api.rest import create_app
from mdsd.base.listeners import bind_unix_socket, build_server
from mdsd.config import Config
from mdsd.daemon import Daemon
from mdsd.demo import demo_config
from simulator import SimulatorThread, World

SIZE = 300
SEED = 7
IDLE_TIMEOUT_S = 60


async def ingest(client: Client, events: Iterable[dict[str, Any]]) -> None:
    """POST events and wait until the daemon has hydrated and enriched them."""
    answer = await client.ingest(jsonl(events))
    assert answer["rejected"] == [], answer
    idle = await client.wait_idle(IDLE_TIMEOUT_S)
    assert idle["idle"], idle


@dataclass(frozen=True)
class Change:
    """The world before and after some mutations, and the transactions around them."""

    before_tx: int
    before_at: str
    after_tx: int
    before: Truth
    after: Truth

    def updated(self, collection: str) -> list[str]:
        """Native ids whose ``updated_at`` changed (records that carry one)."""
        old, new = self.before[collection], self.after[collection]
        return sorted(
            n
            for n in old.keys() & new.keys()
            if old[n].get("updated_at") != new[n].get("updated_at")
        )

    def created(self, collection: str) -> list[str]:
        return sorted(self.after[collection].keys() - self.before[collection].keys())


@dataclass(frozen=True)
class Org:
    """A simulated platform and a started daemon that has hydrated all of it."""

    world: World
    simulator: SimulatorThread
    daemon: Daemon
    client: Client
    #: the world as loaded
    truth: Truth
    #: the last transaction of the initial load
    loaded_tx: int

    def snapshot(self) -> Truth:
        return Truth.of(self.simulator.truth())

    async def change(self, *, updated: str = "models", created: str = "pipeline-runs") -> Change:
        """Mutate the world until some ``updated`` record changed and some ``created`` one
        appeared, feed the daemon their events, and wait until it is idle."""
        before = self.snapshot()
        status = await self.client.status()
        await asyncio.sleep(0.01)  # the change's transactions get a later instant
        for _ in range(20):  # the world is seeded: this ends after the same steps every run
            await ingest(self.client, self.simulator.mutate(25))
            after_tx = (await self.client.status())["last_tx"]
            change = Change(
                status["last_tx"], status["last_tx_at"], after_tx, before, self.snapshot()
            )
            if change.updated(updated) and change.created(created):
                return change
        raise AssertionError(f"no {updated} changed and no {created} appeared in 500 mutations")


@contextlib.asynccontextmanager
async def running_org(tmp: Path, *, size: int = SIZE, seed: int = SEED) -> AsyncIterator[Org]:
    """A simulator serving a generated world and a daemon that has hydrated all of it."""
    world = World.generate(size=size, seed=seed)
    with SimulatorThread(world) as simulator:
        daemon = Daemon(org_config(simulator.base_url, tmp))
        await daemon.start()
        try:
            async with Client(app=create_app(daemon.api)) as client:
                await ingest(client, world.initial_events())
                loaded_tx = (await client.status())["last_tx"]
                yield Org(world, simulator, daemon, client, Truth.of(simulator.truth()), loaded_tx)
        finally:
            await daemon.stop()


def org_config(base_url: str, tmp: Path, *, without: Iterable[str] = ()) -> Config:
    """The demo's config (six sources at one simulator), minus the sources ``without``."""
    config = demo_config(base_url, tmp / "data", tmp / "run" / "mdsd.sock")
    for source in without:
        del config.sources[source]
    return config


@contextlib.asynccontextmanager
async def serving(daemon: Daemon, path: Path) -> AsyncIterator[Path]:
    """The daemon's API on a real Unix socket at ``path``, as ``mdsd`` serves it."""
    sock = bind_unix_socket(path)
    server = build_server(create_app(daemon.api))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield path
    finally:
        server.should_exit = True
        await task
        sock.close()
