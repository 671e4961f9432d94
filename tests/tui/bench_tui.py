"""Measure the explorer's responsiveness (a script, not a test).

    .venv/bin/python tests/tui/bench_tui.py [--socket PATH] [--runs N]

Without ``--socket`` it runs against the in-process fake daemon. It reports:
the import of ``tui.app``; headless start to the first painted search page; and
keystroke-to-results (the query input changing -> results drawn), whose floor is the
search debounce (50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fake_daemon import FakeDaemon
from textual.widgets import Input

from mdsd.client import Client
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


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import tui.app; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


async def measure(socket: str | None, runs: int) -> None:
    fake = FakeDaemon()
    starts: list[float] = []
    searches: list[float] = []
    opens: list[float] = []
    for _ in range(runs):
        client = Client(socket) if socket else Client(app=fake.app)
        app = MdsApp(client=client, live=False)
        began = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            starts.append(time.perf_counter() - began)
            screen = app.screen
            assert isinstance(screen, SearchScreen)
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
                assert isinstance(app.screen, SearchScreen)
                screen = app.screen
                instrument(screen, drawn)
        await client.aclose()
    print(
        f"start to first paint: median {1000 * statistics.median(starts):.0f} ms, min {1000 * min(starts):.0f} ms"
    )
    print(
        f"keystroke to results: median {1000 * statistics.median(searches):.0f} ms, "
        f"min {1000 * min(searches):.0f} ms (debounce 50 ms included)"
    )
    print(f"enter to entity page drawn: median {1000 * statistics.median(opens):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"import tui.app: {1000 * import_time():.0f} ms")
    asyncio.run(measure(args.socket, args.runs))


if __name__ == "__main__":
    main()
