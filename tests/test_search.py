"""The search index: tiered relevance, filters, lifecycle (commit, reopen, recreate)."""

from __future__ import annotations

import itertools
import json
import math
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mds.wire.model import EntityType
from mdsd.index import QueryError, SearchDoc, SearchIndex, SearchQuery, parse_query
from mdsd.index.ranking import MAX_BONUS, MAX_PRIOR, TIER_BASE, prior

SHM = Path("/dev/shm")
ALICE = "aip://user/identity/alice"
BOB = "aip://user/identity/bob"


def doc(kind: str, entity_type: str, name: str, **kw: Any) -> SearchDoc:
    return SearchDoc(id=f"aip://{kind}/src/{name}", entity_type=entity_type, name=name, **kw)


CORPUS = [
    doc(
        "model",
        "Model",
        "ranking-model",
        description="Ranks the homepage rows",
        owners=[ALICE],
        owner_names=["Alice Ng"],
        tags=["team=personalization", "tier=gold"],
    ),
    *(
        doc("model-instance", "ModelInstance", f"ranking-model-v{i}-2025010{i}", owners=[BOB])
        for i in range(1, 8)
    ),
    doc("model", "Model", "ranking-models-archive", owners=[BOB], owner_names=["Bob Smith"]),
    doc("pipeline-run", "PipelineRun", "train-weekly-ranking-20250101"),
    doc("dataset", "Dataset", "playback-events", description="Raw playback from devices"),
    doc("dataset-version", "DatasetVersion", "playback-events@2025-01-01"),
    doc("feature", "Feature", "watch-time-7d", related_names=["playback-events"]),
    doc("feature", "Feature", "personalization-score-1d"),
    doc("user", "User", "Alice Ng"),
    doc("team", "Team", "personalization"),
    doc("dataset", "Dataset", "old-clicks", status="deleted"),
    doc("dataset", "Dataset", "stub-clicks", status="stub"),
]


def _memory_dir(fallback: Path) -> Iterator[Path]:
    """A scratch directory in memory where the OS offers one: every commit fsyncs, and on a
    busy disk that would be most of what these tests take."""
    if not SHM.is_dir():
        yield fallback
        return
    with tempfile.TemporaryDirectory(dir=SHM, prefix="mds-search-test-") as path:
        yield Path(path)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from _memory_dir(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def tmp(tmp_path: Path) -> Iterator[Path]:
    yield from _memory_dir(tmp_path)


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path) -> Iterator[SearchIndex]:
    """The corpus, indexed once for the tests that only read."""
    with SearchIndex(corpus_dir) as ix:
        ix.upsert(CORPUS)
        ix.commit(indexed_tx=7)
        yield ix


@pytest.fixture
def index(tmp: Path) -> Iterator[SearchIndex]:
    """The corpus in an index of the test's own, to write to."""
    with SearchIndex(tmp / "search") as ix:
        ix.upsert(CORPUS)
        ix.commit(indexed_tx=7)
        yield ix


def names(ix: SearchIndex, query: str, **kw: Any) -> list[str]:
    return [h.name for h in ix.search(query, **kw)]


# --- relevance --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["ranking-model", "RANKING-MODEL", "  Ranking-Model "])
def test_exact_name_first_even_when_it_prefixes_many_others(
    corpus: SearchIndex, query: str
) -> None:
    hits = corpus.search(query)
    assert hits[0].name == "ranking-model"
    assert hits[0].match == "exact"
    assert {h.match for h in hits[1:]} <= {"prefix", "words", "fuzzy", "other"}


def test_the_native_id_is_an_exact_match_whatever_the_name(tmp: Path) -> None:
    """``raw-events`` is the id of the dataset named "Raw playback events": that dataset
    comes first, before its versions, whose names merely start with the query."""
    with SearchIndex(tmp / "s") as ix:
        dataset = SearchDoc("aip://dataset/datasets/raw-events", "Dataset", "Raw playback events")
        versions = [
            doc("dataset-version", "DatasetVersion", f"raw-events@2025-01-0{i}") for i in (1, 2)
        ]
        cell = SearchDoc("aip://ab-test-cell/experiments/12345/2", "AbTestCell", "treatment")
        ix.upsert([dataset, *versions, cell])
        ix.commit()
        hits = ix.search("Raw-Events")
        assert [h.id for h in hits][:1] == [dataset.id] and hits[0].match == "exact"
        assert [h.id for h in ix.search("12345/2")] == [cell.id]


def test_exact_first_over_shorter_and_canonical_names(tmp: Path) -> None:
    with SearchIndex(tmp / "s") as ix:
        ix.upsert(
            [
                doc("model", "Model", "churn"),
                doc("model", "Model", "churn-model"),
                doc("model-instance", "ModelInstance", "churn-model-v2-20250101"),
            ]
        )
        ix.commit()
        assert names(ix, "churn-model-v2-20250101")[0] == "churn-model-v2-20250101"
        assert names(ix, "churn")[0] == "churn"


def test_exact_id_is_found(corpus: SearchIndex) -> None:
    assert names(corpus, "aip://dataset/src/playback-events")[0] == "playback-events"


@pytest.mark.parametrize("query", ["rank", "ranking-mo", "ranking mo", "Ranking Mo"])
def test_prefix_ranks_short_canonical_names_first(corpus: SearchIndex, query: str) -> None:
    hits = corpus.search(query)
    assert hits[0].name == "ranking-model"
    assert hits[0].match == "prefix"
    assert len(hits) >= 9


def test_tiers_are_strict(corpus: SearchIndex) -> None:
    order = list(TIER_BASE)
    hits = corpus.search("ranking")
    tiers = [order.index(h.match) for h in hits]
    assert tiers == sorted(tiers)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert names(corpus, "ranking")[-1] == "train-weekly-ranking-20250101"


def test_tier_bands_cannot_overlap() -> None:
    # the most a tier's hit can score is below the least of the tier above
    top_factor = (1 + MAX_BONUS) * math.log2(2 + MAX_PRIOR)
    bases = list(TIER_BASE.values())
    assert all(low * top_factor < high for high, low in itertools.pairwise(bases))
    extremes = [doc("model", "Model", ""), doc("x", "Nope", "a" * 500, status="stub")]
    assert all(0 <= prior(d) <= MAX_PRIOR for d in extremes)


def test_top_documents_first_never_changes_the_results(tmp: Path) -> None:
    """A small page is answered from the top documents when they fill it; it must be what
    the full scan (a page too big for them to fill) starts with."""
    rng = random.Random(3)
    words = ["rank", "ranking", "rate", "play", "playback", "events", "model", "train"]
    types = ["Model", "ModelInstance", "Dataset", "DatasetVersion", "PipelineRun"]
    docs = [
        SearchDoc(
            id=f"aip://x/src/{i}",
            entity_type=rng.choice(types),
            name="-".join(rng.choices(words, k=rng.randint(1, 4))) + f"-{i}",
            status=rng.choice(["resolved", "resolved", "stub"]),
        )
        for i in range(400)
    ]
    with SearchIndex(tmp / "s") as ix:
        ix.upsert(docs)
        ix.commit()
        for query in ["r", "ra", "rank", "play", "ranking mo", "events", "plyback", "rnk"]:
            for limit in (1, 5, 20):
                page = [(h.match, round(h.score, 9)) for h in ix.search(query, limit=limit)]
                everything = [(h.match, round(h.score, 9)) for h in ix.search(query, limit=500)]
                assert page == everything[:limit], (query, limit)


def test_words_anywhere_in_the_name(corpus: SearchIndex) -> None:
    hits = corpus.search("weekly rank")
    assert hits[0].name == "train-weekly-ranking-20250101"
    assert hits[0].match == "words"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("playbak", "playback-events"),  # 1 edit, still typing
        ("playbcak-events", "playback-events"),  # transposition
        ("rankng model", "ranking-model"),
        ("persnalizaton", "personalization"),  # 2 edits in a 13-letter word
    ],
)
def test_typos(corpus: SearchIndex, query: str, expected: str) -> None:
    hits = corpus.search(query)
    assert hits[0].name == expected
    assert hits[0].match == "fuzzy"


def test_typo_budget_by_word_length(corpus: SearchIndex) -> None:
    assert names(corpus, "rnk")[0] == "ranking-model"  # 3 letters: 1 edit
    assert names(corpus, "wx") == []  # 2 letters: none
    assert names(corpus, "pxlybak") == []  # 7 letters: not 2 edits


def test_words_spelled_right_are_not_expanded(tmp: Path) -> None:
    with SearchIndex(tmp / "s") as ix:
        ix.upsert([doc("feature", "Feature", n) for n in ("playback-mode-7d", "node-degree")])
        ix.commit()
        assert names(ix, "playbak mode") == ["playback-mode-7d"]
        # "node" starts a name word, so it is taken as typed, not as a misspelled "mode"
        assert names(ix, "playbak node") == []


def test_mistyped_date_when_every_word_exists(corpus: SearchIndex) -> None:
    assert "train-weekly-ranking-20250101" in names(corpus, "train-weekly-ranking-20250110")


def test_other_fields_rank_below_name_matches(corpus: SearchIndex) -> None:
    hits = corpus.search("playback")
    assert [h.name for h in hits[:2]] == ["playback-events", "playback-events@2025-01-01"]
    assert hits[-1].name == "watch-time-7d"  # only a related name matches
    assert hits[-1].match == "other"
    assert names(corpus, "devices") == ["playback-events"]  # description
    assert names(corpus, "ranking alice") == ["ranking-model"]  # name word + owner name
    assert names(corpus, "homepage ranking") == ["ranking-model"]  # description + name


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flt", ["type:model", "type:Model", "TYPE:MODEL", "Type:mOdEl"])
def test_type_filter(corpus: SearchIndex, flt: str) -> None:
    assert names(corpus, f"{flt} ranking") == ["ranking-model", "ranking-models-archive"]


@pytest.mark.parametrize(
    "flt", ["type:model-instance", "type:ModelInstance", "type:model_instance"]
)
def test_type_filter_by_kind_or_entity_type(corpus: SearchIndex, flt: str) -> None:
    hits = corpus.search(f"{flt} rank")
    assert len(hits) == 7
    assert {h.entity_type for h in hits} == {"ModelInstance"}


def test_entity_type_argument_and_filter_combine(corpus: SearchIndex) -> None:
    assert len(corpus.search("rank", entity_type="model-instance")) == 7
    assert corpus.search("type:dataset rank", entity_type="Model") == []
    with pytest.raises(QueryError, match="unknown type"):
        corpus.search("type:modle rank")


@pytest.mark.parametrize(
    "flt", [f"owner:{ALICE}", "owner:alice", "owner:Alice", "owner:ng", 'owner:"Alice Ng"']
)
def test_owner_filter(corpus: SearchIndex, flt: str) -> None:
    assert names(corpus, f"{flt} rank") == ["ranking-model"]


def test_tag_filter(corpus: SearchIndex) -> None:
    assert names(corpus, "tag:team=personalization rank") == ["ranking-model"]
    assert names(corpus, "tag:tier rank") == ["ranking-model"]
    assert names(corpus, "tag:team=search rank") == []


def test_filters_alone_list_their_matches(corpus: SearchIndex) -> None:
    assert len(corpus.search("owner:bob")) == 8
    # a listing reads by name, canonical entities first (not shortest name first)
    instances = [f"ranking-model-v{i}-2025010{i}" for i in range(1, 8)]
    assert names(corpus, "owner:bob") == ["ranking-models-archive", *instances]
    assert names(corpus, "type:feature") == ["personalization-score-1d", "watch-time-7d"]
    assert corpus.search("owner:bob")[0].match == "filter"
    assert corpus.search("") == []
    assert corpus.search("type:") == []  # still being typed
    every = corpus.search("*", limit=500)
    assert len(every) == len(corpus.search("*", limit=500, include_deleted=True)) - 1
    assert {h.match for h in every} == {"filter"} and "deleted" not in {h.status for h in every}
    assert names(corpus, "* type:dataset") == names(corpus, "type:dataset")
    assert len(corpus.search("", entity_type="model")) == 2
    assert [h.name for h in corpus.search("type:dataset", include_deleted=True)] == [
        "old-clicks",
        "playback-events",
        "stub-clicks",  # stubs rank after resolved entities
    ]


def test_deleted_excluded_stubs_included(corpus: SearchIndex) -> None:
    assert names(corpus, "clicks") == ["stub-clicks"]
    assert corpus.search("stub-clicks")[0].status == "stub"
    deleted = corpus.search("old-clicks", include_deleted=True)
    assert [(h.name, h.status) for h in deleted] == [("old-clicks", "deleted")]


# --- highlights -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name", "highlight"),
    [
        ("ranking-model", "ranking-model", "<b>ranking-model</b>"),
        ("rank", "ranking-model", "<b>rank</b>ing-model"),
        ("ranking mo", "ranking-model", "<b>ranking-mo</b>del"),
        ("weekly rank", "train-weekly-ranking-20250101", "train-<b>weekly-rank</b>ing-20250101"),
        ("playbak", "playback-events", "<b>playback</b>-events"),
        ("alice", "Alice Ng", "<b>Alice</b> Ng"),
        ("devices", "playback-events", "playback-events"),
    ],
)
def test_highlights(corpus: SearchIndex, query: str, name: str, highlight: str) -> None:
    hit = next(h for h in corpus.search(query) if h.name == name)
    assert hit.highlights == {"name": highlight}


def test_highlights_escape_html(tmp: Path) -> None:
    with SearchIndex(tmp / "s") as ix:
        ix.upsert([doc("model", "Model", "a<b>-model")])
        ix.commit()
        assert ix.search("model")[0].highlights["name"] == "a&lt;b&gt;-<b>model</b>"


# --- writes and lifecycle ---------------------------------------------------------------------


def test_upsert_replaces_by_id(index: SearchIndex) -> None:
    before = index.count()
    renamed = doc("dataset", "Dataset", "playback-events")
    renamed.name = "playback-sessions"
    index.upsert([renamed, renamed])
    assert names(index, "playback-sessions") == []  # not committed yet
    index.commit()
    assert index.count() == before
    assert names(index, "playback-sessions") == ["playback-sessions"]
    assert "playback-events" not in names(index, "playback-events")


def test_same_id_twice_in_a_rebuild(tmp: Path) -> None:
    first = doc("model", "Model", "churn-model")
    second = doc("model", "Model", "churn-model")
    second.name = "churn-model-renamed"
    with SearchIndex(tmp / "s") as ix:  # empty: upserts skip the per-id delete
        ix.upsert([first, second])
        ix.commit()
        assert names(ix, "churn") == ["churn-model-renamed"]
        ix.clear()
        ix.upsert([second, first])
        ix.delete([second.id])
        ix.commit()
        assert ix.count() == 0


def test_delete(index: SearchIndex) -> None:
    index.delete(["aip://dataset/src/playback-events", "aip://nope/src/unknown"])
    index.commit()
    assert "playback-events" not in names(index, "playback")
    assert index.count() == len(CORPUS) - 1


def test_commit_persists_across_reopen(tmp: Path) -> None:
    path = tmp / "s"
    with SearchIndex(path) as ix:
        assert ix.indexed_tx is None
        ix.upsert(CORPUS[:3])
        ix.commit(indexed_tx=41)
        ix.upsert(CORPUS[3:5])
        ix.commit()  # keeps 41
        ix.upsert(CORPUS[5:])  # never committed: lost at close
    with SearchIndex(path) as ix:
        assert ix.indexed_tx == 41
        assert ix.count() == 5
        ix.commit(indexed_tx=42)  # nothing staged: still recorded
    with SearchIndex(path) as ix:
        assert ix.indexed_tx == 42


def test_clear_is_staged_and_forgets_indexed_tx(index: SearchIndex) -> None:
    index.clear()
    index.upsert(CORPUS[:2])
    assert index.count() == len(CORPUS)  # old content visible until the commit
    index.commit()
    assert index.count() == 2
    assert index.indexed_tx is None
    index.clear()
    index.commit(indexed_tx=9)
    assert (index.count(), index.indexed_tx) == (0, 9)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / "meta.json").write_text("{not json"),
        lambda p: (p / "meta.json").unlink(),
        lambda p: (p / "mds-search.json").unlink(),
        lambda p: (p / "mds-search.json").write_text(
            json.dumps({"layout": "old", "indexed_tx": 3})
        ),
        lambda p: [f.unlink() for f in p.glob("*.idx")],
    ],
    ids=["corrupt-meta", "missing-meta", "missing-sidecar", "other-layout", "missing-segment"],
)
def test_recreated_when_unreadable_or_of_another_layout(
    tmp: Path, damage: Callable[[Path], object]
) -> None:
    path = tmp / "s"
    with SearchIndex(path) as ix:
        ix.upsert(CORPUS)
        ix.commit(indexed_tx=5)
    damage(path)
    with SearchIndex(path) as ix:
        assert (ix.count(), ix.indexed_tx) == (0, None)
        ix.upsert(CORPUS[:1])
        ix.commit(indexed_tx=6)
        assert names(ix, "ranking-model") == ["ranking-model"]


def test_refuses_to_wipe_a_directory_that_is_not_an_index(tmp: Path) -> None:
    (tmp / "precious.txt").write_text("keep me")
    with pytest.raises(RuntimeError, match="not a search index"):
        SearchIndex(tmp)
    assert (tmp / "precious.txt").exists()


def test_one_instance_per_path(index: SearchIndex) -> None:
    with pytest.raises(ValueError, match="lock"):
        SearchIndex(index.path)
    assert index.count() == len(CORPUS)  # the open index was left alone


def test_owners_index_is_a_second_instance(tmp: Path) -> None:
    owner_types = {EntityType.USER, EntityType.TEAM}
    with SearchIndex(tmp / "owners") as owners:
        owners.upsert(d for d in CORPUS if d.entity_type in owner_types)
        owners.commit()
        assert names(owners, "al") == ["Alice Ng"]
        assert names(owners, "person") == ["personalization"]


# --- query syntax -----------------------------------------------------------------------------


def test_parse_query() -> None:
    parsed = parse_query('type:model-instance owner:"Alice Ng" tag:team=ads ranking  model')
    assert parsed == SearchQuery(
        text="ranking model",
        types=frozenset({EntityType.MODEL_INSTANCE}),
        owners=("Alice Ng",),
        tags=("team=ads",),
    )
    assert parse_query("type:model type:dataset").types == {EntityType.MODEL, EntityType.DATASET}
    assert parse_query('owner:"Alice N').owners == ("Alice N",)  # unclosed while typing
    assert parse_query("aip://model/src/x").text == "aip://model/src/x"
    assert parse_query('"ranking model" x').text == "ranking model x"
    with pytest.raises(QueryError):
        parse_query("type:nope")


def test_kinds_counts_each_kind_without_the_deleted(corpus: SearchIndex) -> None:
    kinds = corpus.kinds()
    assert kinds["ModelInstance"] == 7 and kinds["Model"] == 2
    assert kinds["Dataset"] == 2  # playback-events and the stub; old-clicks is deleted
    assert "AbTest" not in kinds  # none held: no zero rows


def test_kinds_are_counted_once_per_commit(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mds status`` asks for the kinds on every call: between two commits the counts
    kept are the answer, and a commit that changes what searches see counts again."""
    first = index.kinds()
    counted: list[int] = []
    searcher = index._searcher

    def counting() -> Any:
        counted.append(1)
        return searcher()

    monkeypatch.setattr(index, "_searcher", counting)
    assert index.kinds() == first and counted == []
    index.commit(indexed_tx=8)  # nothing staged: searches see the same, nothing to count
    assert index.kinds() == first and counted == []
    index.upsert([doc("model", "Model", "fresh-model")])
    assert index.kinds() == first  # staged, not committed: not seen yet
    index.commit(indexed_tx=9)
    assert index.kinds()["Model"] == first["Model"] + 1 and counted == [1]
    assert index.kinds()["Model"] == first["Model"] + 1 and counted == [1]
