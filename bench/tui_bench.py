"""The explorer's responsiveness, against the floor of the same work.

    .venv/bin/python bench/tui_bench.py [--socket PATH] [--runs N]

Without ``--socket`` it runs against the in-process fake daemon (tests/tui). It reports
the import of ``tui.app``, headless start to the first painted search page, keystroke to
results drawn and Enter to entity page drawn, each as p50 and p95. The peer is the same
questions asked through ``mds.client`` alone, in the same run: keystroke-to-results can
not beat the search debounce (50 ms) plus the search call, nor an entity page its call.
Last, the lineage graph: a 200-node DAG laid out and every row of it drawn (target 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time
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


def instrument(screen: SearchScreen, drawn: dict[str, float]) -> None:
    """Record when each query's results are first drawn."""
    original = screen._draw

    def timed(query: str, results: list[dict[str, Any]]) -> None:
        original(query, results)
        drawn.setdefault(query, time.perf_counter())

    screen._draw = timed  # type: ignore[method-assign]


def search_screen(app: MdsApp) -> SearchScreen:
    screen = app.screen
    assert isinstance(screen, SearchScreen), f"expected the search page, got {screen!r}"
    return screen


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import tui.app; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


async def measure(socket: str | None, runs: int) -> None:
    fake = FakeDaemon()
    starts: list[float] = []
    searches: list[float] = []
    opens: list[float] = []
    debounce = 0.0
    for _ in range(runs):
        client = Client(socket) if socket else Client(app=fake.app)
        app = MdsApp(client=client, live=False)
        debounce = app.search_debounce
        began = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            starts.append(time.perf_counter() - began)
            screen = search_screen(app)
            drawn: dict[str, float] = {}
            instrument(screen, drawn)
            for query in QUERIES:
                typed = time.perf_counter()
                screen.query_one("#query", Input).value = query
                while query not in drawn:
                    await pilot.pause(0.001)
                searches.append(drawn[query] - typed)
                if not screen.results:
                    continue
                target = str(screen.results[0]["id"])
                began_open = time.perf_counter()
                app.open_entity(target)
                while not (
                    isinstance(app.screen, EntityScreen)
                    and app.screen.entity is not None
                    and app.screen.entity_id == target
                ):
                    await pilot.pause(0.001)
                opens.append(time.perf_counter() - began_open)
                app.action_go_back()
                await pilot.pause(0.05)
                screen = search_screen(app)
                instrument(screen, drawn)
        await client.aclose()
    floor_search, floor_open = await client_floor(socket, fake, runs)
    print(f"start to first paint: {spread(starts)}")
    print(
        f"keystroke to results: {spread(searches)}; floor (debounce {1000 * debounce:.0f} ms "
        f"+ search call) {spread([debounce + s for s in floor_search])}; p50 ratio "
        f"{statistics.median(searches) / (debounce + statistics.median(floor_search)):.2f}"
    )
    print(
        f"enter to entity page drawn: {spread(opens)}; floor (entity call) "
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
    print(f"import tui.app: {1000 * import_time():.0f} ms")
    asyncio.run(measure(args.socket, args.runs))
    graph_drawing()


if __name__ == "__main__":
    main()
