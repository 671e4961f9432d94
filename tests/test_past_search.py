"""A search of the past pages through the index until its page is full: the index holds the
present, so most of its best hits may not have existed at the moment asked about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.index import SearchDoc, SearchIndex
from mdsd.index.search import SearchHit
from mdsd.reads.search import PAST_WINDOW, Search
from store import Add, Created, FactStore, Op

THEN = datetime(2025, 1, 1, tzinfo=UTC)


class Index:
    """The index's answer: every entity, newest (best ranked) first; records each ask."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.asked: list[int] = []

    def hits(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        include_deleted: bool = False,
    ) -> list[SearchHit]:
        self.asked.append(limit)
        return [
            SearchHit(x, "Model", x, 1.0, {"name": x}, "resolved", "words")
            for x in self.ids[:limit]
        ]


def test_a_past_search_asks_further_when_the_first_window_holds_too_few(tmp_path: Path) -> None:
    limit = 5
    ids = [f"aip://model/registry/m{i}" for i in range(200)]
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        # the last 10 existed on THEN; the 190 ranked above them were created later
        ops: list[Op] = []
        for i, x in enumerate(ids):
            born = THEN - timedelta(days=1) if i >= 190 else THEN + timedelta(days=1)
            ops += [Created(x, born), Add(x, F.NAME, x, born), Add(x, F.STATUS, "resolved", born)]
        store.transact(ops)
        index = Index(ids)
        search = Search(store, index, index)  # type: ignore[arg-type]
        found = search("m", limit=limit, db=store.valid_at(THEN))["results"]
        assert [hit["id"] for hit in found] == ids[190:195]
        assert index.asked[0] == PAST_WINDOW * limit and len(index.asked) == 2
        index.asked.clear()
        now = search("m", limit=limit)["results"]
        assert [hit["id"] for hit in now] == ids[:5] and index.asked == [limit]


def test_a_past_search_reads_from_the_index_only_the_hits_it_looks_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It asks the index for four pages; reading the stored fields and highlights of all
    of them made it cost four times a search of now."""
    ids = [f"aip://model/registry/m{i:03}" for i in range(50)]
    with FactStore(tmp_path / "facts") as store, SearchIndex(tmp_path / "search") as index:
        store.install(F.SCHEMA)
        ops: list[Op] = []
        for x in ids:
            born = THEN - timedelta(days=1)
            ops += [Created(x, born), Add(x, F.NAME, x, born), Add(x, F.STATUS, "resolved", born)]
        store.transact(ops)
        index.upsert(SearchDoc(x, "Model", x) for x in ids)
        index.commit()
        read: list[object] = []
        searcher_of = index._searcher

        class Counting:
            def __init__(self) -> None:
                self.inner = searcher_of()

            def doc(self, address: object) -> object:
                read.append(address)
                return self.inner.doc(address)

            def __getattr__(self, name: str) -> object:
                return getattr(self.inner, name)

        monkeypatch.setattr(index, "_searcher", Counting)
        found = Search(store, index, index)(
            "aip://model/registry/m", limit=5, db=store.valid_at(THEN)
        )
        assert len(found["results"]) == 5 and len(read) == 5
