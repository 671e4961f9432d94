"""bench/_stages.py: py-spy samples of the daemon's loop sorted into stages."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from _stages import shares

MAIN = "_run_module_as_main (<frozen runpy>:198);BaseEventLoop._run_once (asyncio/base_events.py:1)"
RAW = "\n".join(
    [
        f"{MAIN};Hydrator._work (mdsd/hydration/hydrator.py:1);Writer.write (mdsd/hydration/writer.py:2) 6",
        # a write made by an enrichment pass is enrichment's time
        f"{MAIN};Enrichment._apply (mdsd/enrichment/loop.py:3);Writer.write (mdsd/hydration/writer.py:2) 2",
        f"{MAIN};Indexer.run (mdsd/index/indexer.py:4);document (mdsd/index/indexer.py:5) 1",
        f"{MAIN};EpollSelector.select (selectors.py:468) 1",
        # other threads are not the loop
        "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83) 50",
    ]
)


def test_samples_of_the_main_thread_are_shared_by_stage() -> None:
    assert shares(RAW) == {
        "write (transaction)": 0.6,
        "enrichment": 0.2,
        "search indexing": 0.1,
        "idle (waiting for I/O)": 0.1,
    }
