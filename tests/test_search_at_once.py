"""Searching the best tiers at once gives what searching them one by one gives.

``mdsd.index.ranked`` puts the tiers of a query that matches few documents into one
tantivy search; how many depends on ``AT_ONCE_DOCS``. Whatever it is (none at once, all,
or some), every query must find the same hits, in the same order, with the same tiers and
scores (float32 in one search, float64 in the other: equal to a millionth); only equally
ranked hits (ties) may come in another order.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdsd.index import SearchDoc, SearchHit, SearchIndex
from mdsd.index import ranked as ranked_module

WORDS = [
    "rank", "ranking", "ranker", "play", "playback", "events", "event", "model", "models",
    "train", "weekly", "daily", "score", "scoring", "features", "user", "clicks", "click",
    "2025", "01", "v2", "personalization", "persona", "eu", "us",
]  # fmt: skip
TYPES = ["Model", "ModelInstance", "Dataset", "DatasetVersion", "PipelineRun", "User"]
#: none at once, a few, every bounded tier
AT_ONCE = (-1, 30, 10**9)


def _corpus(rng: random.Random) -> list[SearchDoc]:
    docs = []
    for i in range(700):
        name = rng.choice(["-", " ", "_", "@"]).join(rng.choices(WORDS, k=rng.randint(1, 5)))
        docs.append(
            SearchDoc(
                id=f"aip://x/src/{i}",
                entity_type=rng.choice(TYPES),
                name=name if rng.random() < 0.9 else f"{name}-{i}",
                description=" ".join(rng.choices(WORDS, k=rng.randint(0, 4))),
                owner_names=rng.sample(["Alice Ng", "Bob Rank"], k=rng.randint(0, 1)),
                related_names=[" ".join(rng.choices(WORDS, k=2)) for _ in range(rng.randint(0, 2))],
                status=rng.choice(["resolved", "resolved", "resolved", "stub", "deleted"]),
            )
        )
    return docs


CORPUS = _corpus(random.Random(11))


@pytest.fixture(scope="module")
def index() -> Iterator[SearchIndex]:
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None  # commits fsync: not on a disk
    with tempfile.TemporaryDirectory(dir=shm) as d, SearchIndex(Path(d) / "s") as ix:
        ix.upsert(CORPUS)
        ix.commit()
        yield ix


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    return word[:i] + rng.choice("aeiouxz") + word[i + 1 :]


@st.composite
def queries(draw: st.DrawFn) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    name = rng.choice(CORPUS).name
    kind = draw(st.sampled_from(["name", "prefix", "typo", "words", "typo words", "filtered"]))
    if kind == "name":
        return name.upper() if rng.random() < 0.3 else name
    if kind == "prefix":
        return name[: rng.randint(1, len(name))]
    if kind == "typo":
        return _typo(name, rng)
    words = rng.choices(WORDS, k=rng.randint(1, 3))
    if kind == "typo words":
        words = [_typo(w, rng) if rng.random() < 0.5 else w for w in words]
    if rng.random() < 0.5:  # the last word still being typed
        words[-1] = words[-1][: rng.randint(1, len(words[-1]))]
    query = " ".join(words)
    return f"type:{rng.choice(TYPES)} {query}" if kind == "filtered" else query


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries(), limit=st.sampled_from([1, 3, 20, 100]), deleted=st.booleans())
def test_tiers_at_once_find_what_tiers_one_by_one_find(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, query: str, limit: int, deleted: bool
) -> None:
    answers = []
    for at_once in AT_ONCE:
        monkeypatch.setattr(ranked_module, "AT_ONCE_DOCS", at_once)
        answers.append(_ranks(index.search(query, limit=limit, include_deleted=deleted)))
    for answer in answers[1:]:
        assert [(match, len(ids)) for match, _, ids in answer] == [
            (match, len(ids)) for match, _, ids in answers[0]
        ], query
        for (_, score, ids), (_, expected_score, expected_ids) in zip(
            answer, answers[0], strict=True
        ):
            assert math.isclose(score, expected_score, rel_tol=1e-6), query
            # the last rank of a full page may be cut through ties: either of them
            if ids is not answer[-1][2] or sum(len(i) for _, _, i in answer) < limit:
                assert ids == expected_ids, query


def _ranks(hits: list[SearchHit]) -> list[tuple[str, float, set[tuple[str, str]]]]:
    """The hits in ranks of equal tier and score (ties, whose order is tantivy's), each hit
    as its id and highlight."""
    ranks: list[tuple[str, float, set[tuple[str, str]]]] = []
    for hit in hits:
        if (
            ranks
            and ranks[-1][0] == hit.match
            and math.isclose(ranks[-1][1], hit.score, rel_tol=1e-6)
        ):
            ranks[-1][2].add((hit.id, hit.highlights["name"]))
        else:
            ranks.append((hit.match, hit.score, {(hit.id, hit.highlights["name"])}))
    return ranks


def test_a_query_of_few_documents_is_one_search(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of it: a whole name is searched once, not tier by tier."""
    searches = []
    searcher_of = index._searcher

    class Counting:
        def __init__(self) -> None:
            self.inner = searcher_of()

        def search(self, *args: object, **kwargs: object) -> object:
            searches.append(args)
            return self.inner.search(*args, **kwargs)

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    monkeypatch.setattr(index, "_searcher", Counting)
    name = next(d.name for d in CORPUS if d.status == "resolved" and len(d.name) > 20)
    hits = index.search(name)
    assert hits[0].name == name and hits[0].match == "exact"
    assert len(searches) == 1
