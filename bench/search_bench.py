"""Benchmark of ``mdsd.index.SearchIndex`` against raw tantivy, on a generated organisation.

    .venv/bin/python bench/search_bench.py                 # 200k entities, ~2 minutes
    .venv/bin/python bench/search_bench.py --size 1000000  # the issue's target size

Builds our index and, in the same run, plain tantivy indexes of the same deterministic
names, then replays the same query classes against ours and three peers of tantivy alone,
and prints p50/p99 per class, the ratios, the exact-first rate, the typo recall and the
build throughput. The peers:

- ``job``: the job as the issue measured it with raw tantivy, "prefix and one-typo queries,
  with exact-name boosting": every query word must match a name word, the last as a prefix,
  words of 4+ characters one edit off in the typo classes (the peer is told which), the
  whole name boosted to the top. This is the ratio the issue's "within 2x" is about.
- ``raw``: tantivy's query parser over the name field, as is (it finds no prefixes);
- ``raw~``: the same with every term a 1-edit fuzzy prefix (tantivy's as-you-type mode).

Query classes (each a seeded sample of generated names):

- ``prefix``: the first 3-8 characters of a name, as typed;
- ``word``: the first 3-8 characters of a later word of a name (``weekly`` in a run name);
- ``words``: the first two words of a name separated by a space, the second cut short;
- ``exact``: a whole name (also scored: its entity must be the first hit);
- ``typo``: a whole name with one edit in a word of 4+ characters (also scored: its entity
  must be in the top 10);
- ``typo-prefix``: the first 5-8 characters of a name with one edit, as typed.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import tantivy
from tantivy import Occur, Query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mds.wire.model import KIND_OF, EntityType
from mdsd.index import SearchDoc, SearchIndex
from simulator.vocab import (
    CADENCES,
    DERIVATIONS,
    DOMAINS,
    FEATURE_ENTITIES,
    FEATURE_SIGNALS,
    FEATURE_WINDOWS,
    FIRST_NAMES,
    LAST_NAMES,
    MODEL_TASKS,
    RAW_EVENTS,
    TEAM_FOCUS,
    TREATMENT_NAMES,
)

LIMIT = 20
WORD = re.compile(r"[0-9a-z]+")  # tantivy's default tokenizer, on lower-cased text
#: the query classes whose queries carry a typo (the "job" peer is told)
TYPO_CLASSES = frozenset({"typo", "typo-prefix"})
TOP_K_RECALL = 10

#: share of each entity type in the organisation: versions, runs and instances dominate
MIX: dict[EntityType, float] = {
    EntityType.MODEL: 0.02,
    EntityType.MODEL_INSTANCE: 0.25,
    EntityType.PIPELINE: 0.01,
    EntityType.PIPELINE_RUN: 0.25,
    EntityType.FEATURE: 0.10,
    EntityType.DATASET: 0.03,
    EntityType.DATASET_VERSION: 0.2568,
    EntityType.AB_TEST: 0.015,
    EntityType.AB_TEST_CELL: 0.055,
    EntityType.USER: 0.003,
    EntityType.TEAM: 0.0002,
}
MODEL_SUFFIXES = ("model", "ranker", "classifier", "scorer", "predictor", "encoder", "net")
VARIANTS = ("lite", "large", "realtime", "batch", "global", "mobile", "tv", "web", "eu", "us")
REGIONS = ("eu", "us", "apac", "latam", "global")
AGGREGATIONS = ("mean", "sum", "max", "p95", "count")
PIPELINE_VERBS = ("trainer", "etl", "backfill", "scorer", "exporter", "evaluator", "aggregator")
RUN_VERBS = ("train", "score", "backfill", "eval", "export")
DESCRIPTION_WORDS = (
    "daily", "snapshot", "of", "the", "events", "used", "by", "for", "training", "serving",
    "experiment", "owned", "team", "deprecated", "candidate", "baseline", "production",
    "offline", "online", "metrics", "latency", "quality", "coverage", "backfilled",
)  # fmt: skip
FIRST_DAY = date(2022, 1, 1)
DAYS = 4 * 365


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    entity_type: EntityType
    name: str


class Organisation:
    """Deterministic unique names per entity type, drawn from the simulator's vocabulary."""

    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.names: set[str] = set()
        self.entities: list[Entity] = []
        self.by_type: dict[EntityType, list[str]] = {et: [] for et in EntityType}
        counts = {et: max(1, int(size * share)) for et, share in MIX.items()}
        counts[EntityType.DATASET_VERSION] += size - sum(counts.values())
        # parents before children, so versions/runs/cells can name their parent
        for et in (
            EntityType.TEAM,
            EntityType.USER,
            EntityType.MODEL,
            EntityType.PIPELINE,
            EntityType.DATASET,
            EntityType.FEATURE,
            EntityType.AB_TEST,
            EntityType.MODEL_INSTANCE,
            EntityType.PIPELINE_RUN,
            EntityType.DATASET_VERSION,
            EntityType.AB_TEST_CELL,
        ):
            make = self._makers()[et]
            for _ in range(counts[et]):
                self._add(et, make)

    def _add(self, et: EntityType, make: Callable[[], str]) -> None:
        """Add a fresh name: a few new draws, then a numeric suffix (as people do)."""
        for _ in range(8):
            name = make()
            if name.lower() not in self.names:
                break
        unique, n = name, 1
        while unique.lower() in self.names:
            n += 1
            unique = f"{name}-{n}"
        self.names.add(unique.lower())
        slug = unique.lower().replace(" ", "-")
        self.entities.append(Entity(f"aip://{KIND_OF[et]}/src/{slug}", et, unique))
        self.by_type[et].append(unique)

    def _makers(self) -> dict[EntityType, Callable[[], str]]:
        r = self.rng

        def day() -> str:
            return (FIRST_DAY + timedelta(days=r.randrange(DAYS))).strftime("%Y%m%d")

        def team() -> str:
            return f"{r.choice(DOMAINS)}-{r.choice(TEAM_FOCUS)}"

        def user() -> str:
            return f"{r.choice(FIRST_NAMES).title()} {r.choice(LAST_NAMES).title()}"

        def model() -> str:
            parts = [r.choice(MODEL_TASKS), r.choice(MODEL_SUFFIXES)]
            if r.random() < 0.6:
                parts.insert(0, r.choice(DOMAINS))
            if r.random() < 0.4:
                parts.append(r.choice(VARIANTS))
            return "-".join(parts)

        def pipeline() -> str:
            parts = [r.choice(CADENCES), r.choice(MODEL_TASKS), r.choice(PIPELINE_VERBS)]
            if r.random() < 0.8:
                parts.insert(1, r.choice(DOMAINS))
            return "-".join(parts)

        def dataset() -> str:
            parts = [r.choice(DOMAINS), r.choice(RAW_EVENTS)]
            parts += r.sample(DERIVATIONS, k=r.choice((0, 1, 1, 2)))
            if r.random() < 0.3:
                parts.append(r.choice(REGIONS))
            return "-".join(parts)

        def feature() -> str:
            parts = [
                r.choice(FEATURE_ENTITIES),
                r.choice(FEATURE_SIGNALS),
                r.choice(FEATURE_WINDOWS),
            ]
            if r.random() < 0.7:
                parts.insert(0, r.choice(DOMAINS))
            if r.random() < 0.5:
                parts.append(r.choice(AGGREGATIONS))
            return "-".join(parts)

        def ab_test() -> str:
            task = r.choice(MODEL_TASKS).replace("-", " ")
            return f"{r.choice(DOMAINS).title()} {task} v{r.randint(2, 40)} vs v{r.randint(1, 39)}"

        def instance() -> str:
            return f"{r.choice(self.by_type[EntityType.MODEL])}-v{r.randint(1, 60)}-{day()}"

        def run() -> str:
            verb, parent = r.choice(RUN_VERBS), r.choice(self.by_type[EntityType.PIPELINE])
            return f"{verb}-{parent.split('-', 1)[1]}-{day()}"

        def version() -> str:
            d = day()
            return f"{r.choice(self.by_type[EntityType.DATASET])}@{d[:4]}-{d[4:6]}-{d[6:]}"

        def cell() -> str:
            test = r.choice(self.by_type[EntityType.AB_TEST]).lower().replace(" ", "-")
            return f"{test}-{r.choice(('control', *TREATMENT_NAMES))}"

        return {
            EntityType.TEAM: team,
            EntityType.USER: user,
            EntityType.MODEL: model,
            EntityType.PIPELINE: pipeline,
            EntityType.DATASET: dataset,
            EntityType.FEATURE: feature,
            EntityType.AB_TEST: ab_test,
            EntityType.MODEL_INSTANCE: instance,
            EntityType.PIPELINE_RUN: run,
            EntityType.DATASET_VERSION: version,
            EntityType.AB_TEST_CELL: cell,
        }

    def docs(self) -> Iterator[SearchDoc]:
        """The search documents, with owners, tags and descriptions, generated on the fly."""
        r = random.Random(self.rng.random())
        users = self.by_type[EntityType.USER]
        teams = self.by_type[EntityType.TEAM]
        for e in self.entities:
            owner_names = r.sample(users, k=r.randint(1, 2))
            yield SearchDoc(
                id=e.id,
                entity_type=e.entity_type.value,
                name=e.name,
                description=" ".join(r.choices(DESCRIPTION_WORDS, k=r.randint(4, 12))),
                owners=[f"aip://user/src/{n.lower().replace(' ', '-')}" for n in owner_names],
                owner_names=owner_names,
                tags=[f"team={r.choice(teams)}", f"env={r.choice(('prod', 'staging'))}"],
                related_names=[r.choice(self.entities).name for _ in range(r.randint(0, 3))],
                status="stub" if r.random() < 0.02 else "resolved",
            )


# --- query classes ----------------------------------------------------------------------------


def _typo(word: str, r: random.Random) -> str:
    """One edit (substitution, deletion, insertion or transposition) inside ``word``."""
    i = r.randrange(1, len(word) - 1)  # keep the first and last letters, like most typos
    op = r.choice(("sub", "del", "ins", "swap"))
    letter = r.choice(string.ascii_lowercase)
    if op == "sub":
        letter = r.choice([c for c in string.ascii_lowercase if c != word[i]])
        return word[:i] + letter + word[i + 1 :]
    if op == "del":
        return word[:i] + word[i + 1 :]
    if op == "ins":
        return word[:i] + letter + word[i:]
    if word[i] == word[i + 1]:
        return word[:i] + letter + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _split(name: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, ch in enumerate(name + " "):
        if ch.isalnum() and start is None:
            start = i
        elif not ch.isalnum() and start is not None:
            spans.append((start, i))
            start = None
    return spans


def make_queries(org: Organisation, n: int, seed: int) -> dict[str, list[tuple[str, Entity]]]:
    r = random.Random(seed)
    sample = r.sample(org.entities, k=min(n * 3, len(org.entities)))
    classes: dict[str, list[tuple[str, Entity]]] = {
        c: [] for c in ("prefix", "word", "words", "exact", "typo", "typo-prefix")
    }

    def add(cls: str, query: str, e: Entity) -> None:
        if len(classes[cls]) < n:
            classes[cls].append((query, e))

    for e in sample:
        name, spans = e.name, _split(e.name)
        add("prefix", name[: r.randint(3, 8)].lower(), e)
        add("exact", name, e)
        later = [(s, t) for s, t in spans[1:] if t - s >= 3 and not name[s].isdigit()]
        if later:
            s, t = r.choice(later)
            add("word", name[s : min(t, s + r.randint(3, 8))].lower(), e)
        if len(spans) >= 2:
            (s1, t1), (s2, t2) = spans[:2]
            add("words", f"{name[s1:t1]} {name[s2 : s2 + r.randint(1, t2 - s2)]}".lower(), e)
        typo_spans = [(s, t) for s, t in spans if t - s >= 4]
        if typo_spans:
            s, t = r.choice(typo_spans)
            add("typo", (name[:s] + _typo(name[s:t].lower(), r) + name[t:]).lower(), e)
        s, t = spans[0]
        if t - s >= 5:
            cut = min(t, s + r.randint(5, 8))
            add("typo-prefix", _typo(name[s:cut].lower(), r), e)
    return classes


# --- measuring --------------------------------------------------------------------------------


class RawIndex:
    """The peers: tantivy alone, over a ``name`` text field (its default tokenizer) and the
    lower-cased whole name as one term (``name_exact``)."""

    def __init__(self, path: Path) -> None:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("name", stored=True)
        builder.add_text_field("name_exact", tokenizer_name="raw", index_option="basic")
        self.schema = builder.build()
        path.mkdir()
        self.index = tantivy.Index(self.schema, path=str(path))

    def build(self, entities: list[Entity], heap_mb: int) -> None:
        writer = self.index.writer(heap_size=heap_mb * 1_000_000)
        for e in entities:
            writer.add_document(tantivy.Document(id=e.id, name=e.name, name_exact=e.name.lower()))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def job(self, query: str, limit: int, *, typos: bool) -> list[str]:
        """The same job written with tantivy alone, as the issue measured it (prefix and
        one-typo queries with exact-name boosting): each query word must match a name word,
        the last one as a prefix (as typed); with ``typos``, words of 4+ characters may be
        one edit off; the whole name, matched exactly, is boosted to the top. The peer is
        told which queries have typos, an advantage ours does not get."""
        words = WORD.findall(query.lower())
        if not words:
            return []
        clauses = []
        for i, word in enumerate(words):
            last = i == len(words) - 1
            distance = 1 if typos and len(word) >= 4 else 0
            if distance or last:
                q = Query.fuzzy_term_query(self.schema, "name", word, distance, True, last)
            else:
                q = Query.term_query(self.schema, "name", word)
            clauses.append((Occur.Must, q))
        exact = Query.term_query(self.schema, "name_exact", query.lower())
        full = Query.boolean_query([(Occur.Should, Query.boost_query(exact, 1000.0)), *clauses])
        searcher = self.index.searcher()
        return [
            str(searcher.doc(address).get_first("id"))
            for _score, address in searcher.search(full, limit, count=False).hits
        ]

    def search(self, query: str, limit: int, *, fuzzy: bool = False) -> list[str]:
        """Ids of the top hits of tantivy's query parser over ``name``; with ``fuzzy``, every
        term is a prefix allowing 1 edit (tantivy's own as-you-type, typo-tolerant mode)."""
        fuzzy_fields = {"name": (True, 1, True)} if fuzzy else None
        parsed, _errors = self.index.parse_query_lenient(query, ["name"], fuzzy_fields=fuzzy_fields)
        searcher = self.index.searcher()
        return [
            str(searcher.doc(address).get_first("id"))
            for _score, address in searcher.search(parsed, limit, count=False).hits
        ]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(
    contenders: list[Callable[[str], object]], queries: list[str]
) -> list[tuple[list[float], list[float]]]:
    """Wall and CPU milliseconds per query for each contender, interleaved so that load from
    elsewhere hits them all alike. Searches run on the calling thread, so its CPU time is
    the search's cost without the waits a busy machine adds."""
    for q in queries[:20]:  # warm caches, not measured
        for fn in contenders:
            fn(q)
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in contenders]
    for q in queries:
        for fn, (wall, cpu) in zip(contenders, out, strict=True):
            t, c = time.perf_counter(), time.thread_time()
            fn(q)
            cpu.append((time.thread_time() - c) * 1000)
            wall.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000, help="entities (default 200k)")
    parser.add_argument("--queries", type=int, default=1000, help="queries per class")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--heap-mb", type=int, default=256, help="writer heap for the build")
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp dir)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mds-search-bench-", dir=args.dir))
    try:
        t = time.perf_counter()
        org = Organisation(args.size, args.seed)
        docs = list(org.docs())
        print(f"generated {len(docs):,} entities in {time.perf_counter() - t:.1f}s")

        # a rebuild, as the daemon does it: batches, then one commit
        index = SearchIndex(root / "mds", writer_heap_mb=args.heap_mb)
        t = time.perf_counter()
        for i in range(0, len(docs), 10_000):
            index.upsert(docs[i : i + 10_000])
        index.commit(indexed_tx=1)
        build_s = time.perf_counter() - t
        size_mb = sum(f.stat().st_size for f in (root / "mds").iterdir()) / 1e6
        print(
            f"SearchIndex build: {len(docs) / build_s:,.0f} docs/s "
            f"({build_s:.1f}s, {size_mb:,.0f} MB on disk)"
        )
        del docs

        raw = RawIndex(root / "raw")
        t = time.perf_counter()
        raw.build(org.entities, args.heap_mb)
        raw_s = time.perf_counter() - t
        print(f"raw tantivy build: {args.size / raw_s:,.0f} docs/s ({raw_s:.1f}s)")

        # the daemon's steady state: reopened (as after a restart; closing waited for the
        # rebuild's merges), small batches, one commit each
        index.close()
        t = time.perf_counter()
        index = SearchIndex(root / "mds")
        open_ms = (time.perf_counter() - t) * 1000
        small = [
            SearchDoc(id=f"aip://model/src/commit-{i}", entity_type="Model", name=f"c{i}")
            for i in range(100)
        ]
        commits, commits_cpu = [], []
        for i in range(20):
            index.upsert(small[i * 5 : i * 5 + 5])
            t, c = time.perf_counter(), time.process_time()
            index.commit(indexed_tx=2 + i)
            commits_cpu.append((time.process_time() - c) * 1000)
            commits.append((time.perf_counter() - t) * 1000)
        index.delete(d.id for d in small)
        index.commit()

        classes = make_queries(org, args.queries, args.seed + 1)
        peers: dict[str, Callable[[str, bool], list[str]]] = {
            "job": lambda q, typos: raw.job(q, LIMIT, typos=typos),
            "raw": lambda q, typos: raw.search(q, LIMIT),
            "raw~": lambda q, typos: raw.search(q, LIMIT, fuzzy=True),
        }
        print()
        print("latency in ms (wall; cpu = the searching thread's CPU time); ratio = ours / peer.")
        print("Peers, tantivy alone: job = the same job as the issue measured it (prefix and")
        print("one-typo queries, exact name boosted; told which queries have typos); raw =")
        print("tantivy's query parser over a name field; raw~ = the same with every term a")
        print("1-edit fuzzy prefix (tantivy's own as-you-type mode)")
        print(
            f"{'class':<12} {'n':>5} | {'ours p50':>8} {'p99':>6} {'cpu p50':>7} {'p99':>6} | "
            + " | ".join(f"{name + ' p50':>8} {'ratio p50':>9} {'p99':>5}" for name in peers)
        )
        for cls, pairs in classes.items():
            typos = cls in TYPO_CLASSES
            contenders: list[Callable[[str], object]] = [
                lambda q: index.search(q, limit=LIMIT),
                *(partial(peer, typos=typos) for peer in peers.values()),
            ]
            (ours, ours_cpu), *measured = timed(contenders, [q for q, _ in pairs])
            o50, o99 = percentile(ours, 50), percentile(ours, 99)
            c50, c99 = percentile(ours_cpu, 50), percentile(ours_cpu, 99)
            columns = []
            for wall, _cpu in measured:
                p50, p99 = percentile(wall, 50), percentile(wall, 99)
                columns.append(f"{p50:>8.2f} {o50 / p50:>9.1f} {o99 / p99:>5.1f}")
            print(
                f"{cls:<12} {len(pairs):>5} | {o50:>8.2f} {o99:>6.2f} {c50:>7.2f} {c99:>6.2f} | "
                + " | ".join(columns)
            )

        def rate(hit: Callable[[str, Entity], bool], pairs: list[tuple[str, Entity]]) -> str:
            return f"{100 * sum(hit(q, e) for q, e in pairs) / len(pairs):5.1f}%"

        exact, typo = classes["exact"], classes["typo"]
        print()
        print(
            f"{'':<22} {'ours':>6} "
            + " ".join(f"{n:>6}" for n in peers)
            + f"   (of {len(exact)} each)"
        )
        first = [rate(lambda q, e: index.search(q, limit=1)[0].id == e.id, exact)]
        first += [rate(lambda q, e, p=p: p(q, False)[:1] == [e.id], exact) for p in peers.values()]
        print(f"{'exact name first':<22} " + " ".join(f"{r:>6}" for r in first))
        recall = [
            rate(lambda q, e: e.id in [h.id for h in index.search(q, limit=TOP_K_RECALL)], typo)
        ]
        recall += [
            rate(lambda q, e, p=p: e.id in p(q, True)[:TOP_K_RECALL], typo) for p in peers.values()
        ]
        print(f"{f'typo recall (top {TOP_K_RECALL})':<22} " + " ".join(f"{r:>6}" for r in recall))
        print()
        print(
            f"reopen: {open_ms:.0f} ms; commit of 5 docs: p50 {statistics.median(commits):.1f} ms "
            f"(max {max(commits):.1f}), CPU of all threads p50 "
            f"{statistics.median(commits_cpu):.1f} ms"
        )
        index.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
