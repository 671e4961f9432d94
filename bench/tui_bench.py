"""The explorer's responsiveness, against the floor of the same work.

    .venv/bin/python bench/tui_bench.py [--socket PATH] [--runs N]

Without ``--socket`` it runs against the in-process fake daemon (tests/tui). Every time is
to a painted frame: the app's frames are watched (headless, Textual still composes each
one), and a step ends at the first frame painted once what it waits for is on the page.

- start to first useful paint: ``mds-tui`` started as a process (the interpreter and every
  import included) until the first screen shows the graph's counts and its list (target
  350 ms); with the fake daemon, the child imports the fake too;
- keystroke to results: the query typed until its results are painted (target p95 80 ms
  idle); the floor is the search debounce (50 ms) plus the search call;
- Enter to entity page: ``open_entity`` until the page is painted with the entity (target
  p95 40 ms); the floor is the entity call.

Each is p50 and p95, beside the same questions asked through ``mds.client`` alone. Last,
the lineage graph: a 200-node DAG laid out and every row of it drawn (target 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from fake_daemon import FakeDaemon
from textual.widgets import Input

from mds.client import Client
from mds.graph.flow import FlowGraph
from mds.graph.layout import lay_out, plain
from tui.app import MdsApp
from tui.screens.entity import EntityScreen
from tui.screens.search import SearchScreen

QUERIES = ("rank", "churn", "type:model", "watch", "ranking-model-v5")

#: the child of :func:`start_times`: ``mds-tui``'s app on the daemon, headless, reporting
#: when the first screen is painted with the graph's counts and its list, then quitting
STARTER = """
import sys, time
socket = sys.argv[1] or None
if socket is None:
    sys.path.insert(0, sys.argv[2])
    from fake_daemon import FakeDaemon
from mds.client import Client
from tui.app import MdsApp
from tui.screens.search import SearchScreen

client = Client(socket) if socket else Client(app=FakeDaemon().app)
app = MdsApp(client=client, status_interval=60)
shown = app._display

def display(screen, renderable):
    shown(screen, renderable)
    if renderable is not None and isinstance(screen, SearchScreen) and screen.home_shown:
        print(time.time(), flush=True)
        app.exit()

app._display = display
app.run(headless=True, size=(120, 40))
"""


class Frames:
    """When the app paints: :meth:`until` answers the time of the first frame painted
    once a condition holds."""

    def __init__(self, app: MdsApp) -> None:
        self._waits: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            for holds, painted in self._waits:
                if not painted.done() and holds():
                    painted.set_result(now)

        app._display = display  # type: ignore[method-assign]

    async def until(self, holds: Callable[[], bool], timeout: float = 30.0) -> float:
        wait = (holds, asyncio.get_running_loop().create_future())
        self._waits.append(wait)
        try:
            return await asyncio.wait_for(wait[1], timeout)
        finally:
            self._waits.remove(wait)


def search_screen(app: MdsApp) -> SearchScreen:
    screen = app.screen
    assert isinstance(screen, SearchScreen), f"expected the search page, got {screen!r}"
    return screen


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import tui.app; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def start_times(socket: str | None, runs: int) -> list[float]:
    """Process start to the first useful paint, ``runs`` times (the first one warms the
    disk cache and is left out)."""
    fake_dir = str(Path(__file__).resolve().parents[1] / "tests" / "tui")
    took = []
    for run in range(runs + 1):
        began = time.time()
        out = subprocess.run(
            [sys.executable, "-c", STARTER, socket or "", fake_dir],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        if run:
            took.append(float(out.stdout.split()[0]) - began)
    return took


async def session(app: MdsApp, searches: list[float], opens: list[float]) -> None:
    """Each query typed, and its first result opened, in one running app."""
    frames = Frames(app)
    await frames.until(lambda: isinstance(app.screen, SearchScreen) and app.screen.home_shown)
    for query in QUERIES:
        screen = search_screen(app)
        typed = time.perf_counter()
        screen.query_one("#query", Input).value = query
        painted = await frames.until(lambda: screen.shown_query == query)  # noqa: B023
        searches.append(painted - typed)
        if not screen.results:
            continue
        target = str(screen.results[0]["id"])
        began = time.perf_counter()
        app.open_entity(target)
        painted = await frames.until(
            lambda: (
                isinstance(app.screen, EntityScreen)
                and app.screen.entity_id == target  # noqa: B023
                and app.screen.entity is not None
            )
        )
        opens.append(painted - began)
        await asyncio.sleep(0.2)  # the sections, then a user's pause
        app.action_go_back()
        await frames.until(lambda: isinstance(app.screen, SearchScreen))
        await asyncio.sleep(0.1)


async def measure(socket: str | None, runs: int) -> None:
    fake = FakeDaemon()
    searches: list[float] = []
    opens: list[float] = []
    debounce = 0.0
    for _ in range(runs):
        client = Client(socket) if socket else Client(app=fake.app)
        app = MdsApp(client=client, live=False)
        debounce = app.search_debounce
        async with app.run_test(size=(120, 40)):
            await session(app, searches, opens)
        await client.aclose()
    floor_search, floor_open = await client_floor(socket, fake, runs)
    starts = start_times(socket, runs)
    print(f"start to first useful paint (a process, import included): {spread(starts)}")
    print(
        f"keystroke to results painted: {spread(searches)}; floor (debounce "
        f"{1000 * debounce:.0f} ms + search call) {spread([debounce + s for s in floor_search])}"
        f"; p50 ratio "
        f"{statistics.median(searches) / (debounce + statistics.median(floor_search)):.2f}"
    )
    print(
        f"enter to entity page painted: {spread(opens)}; floor (entity call) "
        f"{spread(floor_open)}; p50 ratio "
        f"{statistics.median(opens) / statistics.median(floor_open):.2f}"
    )


def spread(samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[18] if len(samples) > 1 else samples[0]
    return f"p50 {1000 * statistics.median(samples):.1f} ms, p95 {1000 * p95:.1f} ms"


async def client_floor(
    socket: str | None, fake: FakeDaemon, runs: int
) -> tuple[list[float], list[float]]:
    """The same searches and entity pages through the client alone: the TUI's floor."""
    client = Client(socket) if socket else Client(app=fake.app)
    searches: list[float] = []
    opens: list[float] = []
    try:
        for _ in range(runs):
            for query in QUERIES:
                began = time.perf_counter()
                results = (await client.search(query))["results"]
                searches.append(time.perf_counter() - began)
                if results:
                    began = time.perf_counter()
                    await client.entity(str(results[0]["id"]))
                    opens.append(time.perf_counter() - began)
    finally:
        await client.aclose()
    return searches, opens


def graph_drawing(nodes: int = 200, runs: int = 5, seed: int = 7) -> None:
    """A lineage-shaped DAG of ``nodes`` (each fed by one to three earlier ones) laid out
    and drawn whole, as the graph page does on a load (it draws only the rows on screen)."""
    rng = random.Random(seed)
    answer = {
        "nodes": [
            {"id": f"n{i}", "entity_type": "Dataset", "name": f"table_{i}"} for i in range(nodes)
        ],
        "edges": [
            {"source": f"n{i}", "target": f"n{j}", "type": "derived_from"}
            for i in range(1, nodes)
            for j in rng.sample(range(max(0, i - 40), i), min(i, rng.randint(1, 3)))
        ],
    }
    graph = FlowGraph.from_answers("n0", [answer])
    labels = {n: f"DATA {item['name']}" for n, item in graph.nodes.items()}
    took = []
    for _ in range(runs):
        began = time.perf_counter()
        plain(lay_out(graph, lambda n: len(labels[n])), labels)
        took.append(time.perf_counter() - began)
    verdict = "ok" if statistics.median(took) <= 0.2 else "MISSED"
    print(
        f"lineage graph, {nodes} nodes and {len(graph.edges)} edges laid out and drawn: "
        f"{spread(took)} [{verdict}: p50 <= 200 ms]"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores: numbers above 1-2 are contended)")
    print(f"import tui.app: {1000 * import_time():.0f} ms")
    asyncio.run(measure(args.socket, args.runs))
    graph_drawing()


if __name__ == "__main__":
    main()
