"""The search index: as-you-type lookup of entities by name, on tantivy.

It plays Elasticsearch's role for mds: the TUI sends one query per keystroke, so a search
must answer in a few milliseconds over a million entities, and the daemon feeds it from the
fact store in batches.

Relevance is tiered, and the tiers are strict (every hit of a tier ranks above every hit of
the next):

1. ``exact``  - the whole name, or the native id (``raw-events`` of
   ``aip://dataset/datasets/raw-events``), equals the query, case-insensitively (or the
   query is the id);
2. ``prefix`` - the name starts with the query, separators and case ignored (``ranking mo``
   and ``Ranking-Mo`` both find ``ranking-model-v5``);
3. ``words``  - every query word starts a word of the name (``weekly rank`` finds
   ``train-weekly-ranking-20250101``);
4. ``fuzzy``  - as ``words``, but a misspelled word (one that starts no name word) of 3+
   characters may be 1 edit off, of 8+ characters 2 edits (``playbak`` finds
   ``playback-events``). Words spelled like some name word are taken as typed, so a typo
   only pays for expanding itself; only when nothing at all matched are they all expanded
   (a mistyped date is still a date), and then exact words rank higher;
5. ``other``  - every query word is a word of the name, the description, an owner's name, a
   tag or a related entity's name, the last one possibly unfinished (``ranking alice`` finds
   alice's ranking models).

Within a tier, a static per-document prior decides: resolved canonical entities (a Model, a
Dataset) before the many versions, runs and cells hanging off them, shorter names first
within each (the closest completion of what was typed), stubs last.

Each tier is one tantivy search, best tier first, and the search stops as soon as ``limit``
hits are found: as-you-type queries are nearly always answered by the exact and prefix tiers
and never pay for the others. Tiers match precomputed terms (edge n-grams of the whole name
and of each name word), so a prefix is one term lookup, never a walk of the term dictionary;
only fuzzy words and the unfinished last word in other text walk it. What a search costs is
then the number of documents a tier matches, all of which must be ordered by prior: ``tra``
matches a tenth of a graph. So the name fields are indexed twice, the second time for the
top documents only (the resolved canonical ones, a fifth of a graph, whose prior is above
every other's); a tier first looks there, and only if they cannot fill the page goes on to
every document.

Index layout (one tantivy document per entity):

=================  =======================================  ==========================
field              content                                  used by
=================  =======================================  ==========================
id                 aip id, raw                              upsert/delete key, id query
entity_type        ``Model``... raw                         ``type:``
status             resolved / stub / deleted, raw           leaving deleted out
name               whole name, lowercased; stored as is     exact tier, display
native             the id's native part, lowercased         exact tier
name_prefix        edge n-grams of the normalized name      prefix tier
name_word_prefix   edge n-grams of each name word           words, fuzzy, other tiers
name_words         words of the name                        fuzzy tier (one term per
                                                            word, not one per n-gram)
``*_top``          the three above, top documents only      the same, looked at first
owner              owner ids, id tails, names, name words   ``owner:``
tag                ``k=v`` and ``k``, lowercased            ``tag:``
text               words of the name, description, owner    other tier
                   names, tags and related names
prior              float fast field                         order within a tier
=================  =======================================  ==========================

The normalized name is the name's words joined by single spaces (``playback-events@2025``
is ``playback events 2025``), so a prefix typed with other separators still matches.

Owners index: users and teams are searched through a second ``SearchIndex`` at its own path
(the daemon uses ``{data_dir}/search/owners``) fed only the User and Team documents, with
this same API. The main index holds users and teams too (``mds search alice`` finds the
user); the small one exists so that owner completion (``/v1/owners/search``, ``owner:al`` in
the TUI) answers from a few thousand documents and never competes with a million assets.

Commit policy: ``upsert``/``delete``/``clear`` only stage changes; ``commit`` makes them
visible and durable. A commit is one tantivy commit (a segment flush and its fsyncs: 10-20 ms
of CPU at a million documents, and as long as the disk takes to sync, 10-30 ms idle, 100+ ms
busy; the GIL is released meanwhile), a small sidecar write and a reader reload; with nothing
staged it costs nothing. The daemon should commit on a timer (``search.commit_interval_ms``,
1 s) only when something was staged, off its event loop, passing the last fact-store tx it
indexed; tantivy merges the small segments this produces in the background. A rebuild is
``clear()``, ``upsert`` in batches, one ``commit(tx)``: until that commit, searches still see
the old content.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import math
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final, Literal

import tantivy
from rapidfuzz.distance import Levenshtein
from tantivy import (
    DocAddress,
    Filter,
    Occur,
    Query,
    TextAnalyzer,
    TextAnalyzerBuilder,
    Tokenizer,
)

from mds.wire.model import KIND_OF, EntityType

__all__ = [
    "MAX_SEARCH_LIMIT",
    "QueryError",
    "SearchDoc",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "parse_query",
]

Status = Literal["resolved", "stub", "deleted"]
MatchTier = Literal["exact", "prefix", "words", "fuzzy", "other", "filter"]

_STATUSES: Final = frozenset({"resolved", "stub", "deleted"})
#: the most hits one search answers
MAX_SEARCH_LIMIT: Final = 500


@dataclass(slots=True)
class SearchDoc:
    """What the index knows of one entity; built by the daemon from the fact store."""

    id: str
    entity_type: str
    name: str
    description: str = ""
    owners: list[str] = field(default_factory=list)
    owner_names: list[str] = field(default_factory=list)
    #: ``"k=v"`` (or ``"k"`` for a valueless tag)
    tags: list[str] = field(default_factory=list)
    #: names of related entities, so a search for a dataset's name also recalls its features
    related_names: list[str] = field(default_factory=list)
    status: Status = "resolved"


@dataclass(slots=True)
class SearchHit:
    id: str
    entity_type: str
    name: str
    score: float
    #: field -> HTML-escaped text with the matched parts in ``<b>..</b>``; always has "name"
    highlights: dict[str, str]
    status: Status
    #: the relevance tier that found this hit (see the module docstring)
    match: MatchTier


class QueryError(ValueError):
    """A query the user must fix (an unknown ``type:``); the message says how."""


# --- query syntax ---------------------------------------------------------------------------

_FILTER_KEYS: Final = frozenset({"type", "owner", "tag"})
# key:"quoted value" | key:value | "quoted phrase" | word; an unclosed quote runs to the end,
# because the user is still typing it.
_TOKEN_RE: Final = re.compile(
    r'(?P<key>[A-Za-z]+):(?:"(?P<qval>[^"]*)"?|(?P<val>\S*))|"(?P<phrase>[^"]*)"?|(?P<word>\S+)'
)


def _type_key(value: str) -> str:
    return value.lower().replace("-", "").replace("_", "")


# "model", "Model", "model-instance", "ModelInstance", "model_instance" -> EntityType
_TYPE_ALIASES: Final[dict[str, EntityType]] = {
    **{_type_key(et.value): et for et in EntityType},
    **{_type_key(kind): et for et, kind in KIND_OF.items()},
}


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query string: free text plus filters (AND across keys, OR within ``type``)."""

    text: str
    types: frozenset[EntityType] = frozenset()
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: a bare ``*``: every entity the filters let through, even with no filter
    everything: bool = False


def parse_query(query: str) -> SearchQuery:
    """Split ``type:model owner:alice tag:team=personalization free text`` into its parts.

    ``type`` takes an entity_type or an aip kind, case-insensitively (``type:model-instance``,
    ``type:ModelInstance``); ``owner`` an owner id, its last segment or a word of the owner's
    name; ``tag`` ``k=v`` or ``k``. Values may be quoted (``owner:"Alice Ng"``). An empty
    value (``type:`` as it is being typed) is ignored; unknown keys are free text, so a pasted
    ``aip://`` id stays searchable. A bare ``*`` matches everything. Raises ``QueryError``
    for an unknown type.
    """
    words: list[str] = []
    types: set[EntityType] = set()
    owners: list[str] = []
    tags: list[str] = []
    everything = False
    for m in _TOKEN_RE.finditer(query):
        if m["word"] == "*":
            everything = True
            continue
        key = (m["key"] or "").lower()
        if key not in _FILTER_KEYS:
            text = m["phrase"] if m["phrase"] is not None else m[0]
            words.extend(text.split())
            continue
        value = (m["qval"] if m["qval"] is not None else m["val"]).strip()
        if not value:
            continue
        if key == "type":
            et = _TYPE_ALIASES.get(_type_key(value))
            if et is None:
                known = ", ".join(sorted(KIND_OF.values()))
                raise QueryError(f"unknown type {value!r}; known: {known}")
            types.add(et)
        elif key == "owner":
            owners.append(value)
        else:
            tags.append(value)
    return SearchQuery(" ".join(words), frozenset(types), tuple(owners), tuple(tags), everything)


# --- analysis ---------------------------------------------------------------------------------

#: Longest whole-name prefix indexed as a term. Longer typed prefixes are answered by this
#: prefix plus word conditions; raising it grows the term dictionary with mostly unique terms.
NAME_PREFIX_CHARS: Final = 24
#: Longest word prefix indexed as a term; longer words fall back to a term-dictionary walk.
WORD_PREFIX_CHARS: Final = 16
#: Words longer than this are dropped (hashes, base64): nobody types them.
MAX_WORD_CHARS: Final = 40


def _analyzers() -> dict[str, TextAnalyzer]:
    def words() -> TextAnalyzerBuilder:
        return (
            TextAnalyzerBuilder(Tokenizer.simple())
            .filter(Filter.remove_long(MAX_WORD_CHARS))
            .filter(Filter.lowercase())
            .filter(Filter.ascii_fold())
        )

    return {
        "mds_keyword": TextAnalyzerBuilder(Tokenizer.raw()).filter(Filter.lowercase()).build(),
        "mds_words": words().build(),
        "mds_name_prefix": TextAnalyzerBuilder(Tokenizer.ngram(1, NAME_PREFIX_CHARS, True))
        .filter(Filter.lowercase())
        .build(),
        "mds_word_prefix": TextAnalyzerBuilder(Tokenizer.ngram(1, WORD_PREFIX_CHARS, True))
        .filter(Filter.lowercase())
        .build(),
    }


# (field, stored, analyzer, index_option); changing any of it changes the fingerprint, and an
# index written with another fingerprint is rebuilt from scratch on open.
_TEXT_FIELDS: Final = (
    ("id", True, "raw", "basic"),
    ("entity_type", True, "raw", "basic"),
    ("status", True, "raw", "basic"),
    ("name", True, "mds_keyword", "basic"),
    ("native", False, "mds_keyword", "basic"),
    ("name_prefix", False, "mds_name_prefix", "basic"),
    ("name_word_prefix", False, "mds_word_prefix", "basic"),
    ("name_words", False, "mds_words", "basic"),
    # the same for top documents only (prior >= TOP_PRIOR)
    ("name_prefix_top", False, "mds_name_prefix", "basic"),
    ("name_word_prefix_top", False, "mds_word_prefix", "basic"),
    ("name_words_top", False, "mds_words", "basic"),
    ("owner", False, "mds_keyword", "basic"),
    ("tag", False, "mds_keyword", "basic"),
    ("text", False, "mds_words", "basic"),
)
_LAYOUT_FINGERPRINT: Final = hashlib.sha256(
    repr((1, _TEXT_FIELDS, NAME_PREFIX_CHARS, WORD_PREFIX_CHARS, MAX_WORD_CHARS)).encode()
).hexdigest()[:16]


def _build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name, stored, analyzer, index_option in _TEXT_FIELDS:
        builder.add_text_field(
            name, stored=stored, tokenizer_name=analyzer, index_option=index_option
        )
    builder.add_float_field("prior", fast=True)
    return builder.build()


# --- ranking ----------------------------------------------------------------------------------

#: Types that have many versions/runs/cells hanging off them; the parent ranks first.
_CANONICAL_TYPES: Final = frozenset(
    {
        EntityType.MODEL,
        EntityType.PIPELINE,
        EntityType.FEATURE,
        EntityType.DATASET,
        EntityType.AB_TEST,
        EntityType.USER,
        EntityType.TEAM,
    }
)
#: Bounds of the prior; a hit's score is its tier's base times ``log2(2 + prior)`` (what
#: tantivy's ``weight_by_field`` computes), a factor in [1, log2(3)] (see ``_TIER_BASE``).
MAX_PRIOR: Final = 1.0
#: Documents with a prior from here up (resolved canonical entities, a fifth of a typical
#: graph) are indexed a second time in the ``*_top`` fields, see ``SearchIndex.search``.
TOP_PRIOR: Final = 0.5


def _prior(doc: SearchDoc) -> float:
    """Static within-tier rank: resolved canonical entities, then the rest; shorter names
    first within each (the closest completion of what was typed); stubs last."""
    shortness = 1.0 / (1.0 + len(doc.name) / 12.0)  # in (0, 1]
    prior = 0.5 * shortness + (TOP_PRIOR if doc.entity_type in _CANONICAL_TYPES else 0.0)
    return prior * 0.5 if doc.status == "stub" else prior


# Tiers are searched one after the other, so their order never depends on scores; scores are
# reported so that they agree with it: a tier's lie in [base, 1.5 * base] * log2(3) (a bonus
# of at most half the base, times the prior factor) < 2.4 * base, below the next tier's base.
_TIER_BASE: Final[dict[MatchTier, float]] = {
    "exact": 4.0**5,
    "prefix": 4.0**4,
    "words": 4.0**3,
    "fuzzy": 4.0**2,
    "other": 4.0,
    "filter": 1.0,
}
_MAX_BONUS: Final = 0.5


def _fuzzy_distance(word: str) -> int:
    """Edits forgiven in a misspelled word: from 3 letters, as a 4-letter word loses one."""
    return 2 if len(word) >= 8 else 1 if len(word) >= 3 else 0


# --- the index --------------------------------------------------------------------------------

_SIDECAR = "mds-search.json"


class SearchIndex:
    """A tantivy index of ``SearchDoc`` at ``path`` (a directory it owns).

    Opening an index written with another layout, or one that fails to open, recreates it
    empty (``indexed_tx`` is then None, which tells the daemon to rebuild it). Writes are
    serialized internally; searches may run concurrently from any thread. Only one instance
    may be open on a path at a time (tantivy's writer lock).

    ``writer_heap_mb`` bounds the indexing memory; a bigger heap means fewer, larger segments
    during a rebuild (the benchmark uses 256).
    """

    def __init__(self, path: Path, *, writer_heap_mb: int = 64) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._analyzers = _analyzers()
        self._schema = _build_schema()
        self._dirty = False
        self._cleared = False
        self._closed = False
        self._index, self._indexed_tx = self._open_or_create()
        empty = self._index.searcher().num_docs == 0
        # An empty index is about to be rebuilt: index on every core. Otherwise one thread,
        # which halves the CPU of the frequent small commits (one segment each, not one per
        # thread) and is plenty for incremental batches.
        self._heap_size = writer_heap_mb * 1_000_000
        self._writer = self._index.writer(heap_size=self._heap_size, num_threads=0 if empty else 1)
        #: While not None, every id the index may hold, committed or staged. Deleting an id
        #: before adding it costs as much as the add, and a rebuild (after ``clear`` or into
        #: an empty index) need not; dropped at the commit, so as not to hold a million ids.
        self._possible_ids: set[str] | None = set() if empty else None

    # -- lifecycle --

    def _open_or_create(self) -> tuple[tantivy.Index, int | None]:
        sidecar = self._read_sidecar()
        if sidecar is not None and sidecar.get("layout") == _LAYOUT_FINGERPRINT:
            try:
                index = tantivy.Index.open(str(self.path))
                self._register(index)
                index.searcher()  # loads every segment: a missing or truncated file fails here
            except ValueError:
                pass  # corrupt: rebuilt below
            else:
                tx = sidecar.get("indexed_tx")
                return index, tx if isinstance(tx, int) else None
        self._wipe()
        self.path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self._schema, path=str(self.path), reuse=False)
        self._register(index)
        self._write_sidecar(None)
        return index, None

    def _register(self, index: tantivy.Index) -> None:
        for name, analyzer in self._analyzers.items():
            index.register_tokenizer(name, analyzer)
        index.config_reader(reload_policy="Manual")

    def _wipe(self) -> None:
        """Delete the index directory, refusing if it does not look like an index of ours."""
        if not self.path.exists():
            return
        names = {p.name for p in self.path.iterdir()}
        if names and not names & {_SIDECAR, "meta.json", ".managed.json"}:
            raise RuntimeError(f"refusing to replace {self.path}: it is not a search index")
        shutil.rmtree(self.path)

    def _read_sidecar(self) -> dict[str, object] | None:
        try:
            data = json.loads((self.path / _SIDECAR).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_sidecar(self, indexed_tx: int | None) -> None:
        tmp = self.path / f"{_SIDECAR}.tmp"
        with tmp.open("w") as f:
            json.dump({"layout": _LAYOUT_FINGERPRINT, "indexed_tx": indexed_tx}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / _SIDECAR)

    def close(self) -> None:
        """Release the writer and its directory lock, after tantivy's background merges end
        (seconds after a big rebuild). Staged, uncommitted changes are lost."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._writer.rollback()
            self._writer.wait_merging_threads()

    def recover(self) -> None:
        """Take a new writer after the last one failed: an I/O error (a full disk) kills
        tantivy's writer, which then refuses all work. What it had staged is lost; the
        indexer stages it again, since ``indexed_tx`` did not move."""
        with self._lock:
            with contextlib.suppress(ValueError):
                self._writer.rollback()
            del self._writer  # its directory lock goes with it, before the new one takes it
            self._writer = self._index.writer(heap_size=self._heap_size, num_threads=1)
            self._dirty = self._cleared = False
            self._possible_ids = None

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --

    def upsert(self, docs: Iterable[SearchDoc]) -> None:
        """Stage ``docs``, each replacing any document with the same id."""
        with self._lock:
            for doc in docs:
                if doc.status not in _STATUSES:
                    raise ValueError(f"status must be one of {sorted(_STATUSES)}: {doc.status!r}")
                if self._possible_ids is None or doc.id in self._possible_ids:
                    self._writer.delete_documents_by_term("id", doc.id)
                else:
                    self._possible_ids.add(doc.id)
                self._writer.add_document(self._to_document(doc))
                self._dirty = True

    def delete(self, ids: Iterable[str]) -> None:
        """Stage the removal of these ids (unknown ids are ignored)."""
        with self._lock:
            for id_ in ids:
                if self._possible_ids is None or id_ in self._possible_ids:
                    self._writer.delete_documents_by_term("id", id_)
                    self._dirty = True

    def clear(self) -> None:
        """Stage the removal of everything; until the next commit, searches see the old data.

        Also forgets ``indexed_tx`` at that commit unless it is given a new one. A rebuild is
        ``clear()``, ``upsert`` of everything, one ``commit(tx)``: no moment where the index
        looks empty, and upserts after a clear skip the per-id delete until that commit.
        """
        with self._lock:
            self._writer.delete_documents_by_query(Query.all_query())
            self._possible_ids = set()
            self._dirty = True
            self._cleared = True

    def commit(self, indexed_tx: int | None = None) -> None:
        """Make staged changes visible and durable, and record the fact-store tx they reach.

        ``indexed_tx=None`` keeps the previous value (or forgets it after a ``clear``).
        """
        with self._lock:
            tx = self._indexed_tx if indexed_tx is None and not self._cleared else indexed_tx
            if self._dirty:
                self._writer.commit()
                self._index.reload()
            if self._dirty or tx != self._indexed_tx:
                # After the tantivy commit: a crash in between leaves an older tx on disk, and
                # re-indexing from there is harmless because upserts are idempotent.
                self._write_sidecar(tx)
            self._indexed_tx = tx
            self._dirty = self._cleared = False
            self._possible_ids = None

    @property
    def indexed_tx(self) -> int | None:
        """The last fact-store tx whose changes are committed here (None: rebuild needed)."""
        return self._indexed_tx

    def _to_document(self, doc: SearchDoc) -> tantivy.Document:
        words = self._analyzers["mds_words"].analyze(doc.name)
        owner_keys = [*doc.owners, *(owner.rsplit("/", 1)[-1] for owner in doc.owners)]
        for owner_name in doc.owner_names:
            owner_keys += (owner_name, *owner_name.split())
        prior = _prior(doc)
        names = {"name_prefix": " ".join(words), "name_word_prefix": words, "name_words": words}
        if prior >= TOP_PRIOR:
            names |= {f"{name}_top": value for name, value in names.items()}
        return tantivy.Document(
            id=doc.id,
            entity_type=doc.entity_type,
            status=doc.status,
            name=doc.name,
            native=_native_id(doc.id),
            owner=owner_keys,
            tag=[*doc.tags, *(tag.split("=", 1)[0] for tag in doc.tags if "=" in tag)],
            text=[doc.name, doc.description, *doc.owner_names, *doc.tags, *doc.related_names],
            prior=prior,
            **names,
        )

    # -- reads --

    def count(self) -> int:
        """Committed documents, whatever their status."""
        return self._index.searcher().num_docs

    def search(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        include_deleted: bool = False,
    ) -> list[SearchHit]:
        """The best ``limit`` hits for a query string (see ``parse_query``), best first.

        ``entity_type`` (an entity_type or kind) further restricts ``type:`` filters from the
        query. Deleted entities are left out unless ``include_deleted``; stubs are included.
        A query with neither text nor filters (nor ``*``) finds nothing: ``type:`` as it
        is being typed lists no one.
        """
        parsed = parse_query(query)
        filters = self._filters(parsed, entity_type, include_deleted)
        if filters is None or limit <= 0:
            return []
        words = self._analyzers["mds_words"].analyze(parsed.text) if parsed.text else []
        searcher = self._index.searcher()
        found: list[tuple[float, DocAddress, MatchTier]] = []
        seen: set[tuple[int, int]] = set()

        def best(tier: MatchTier, query: Query, scored: bool) -> list[tuple[float, DocAddress]]:
            # ``limit`` and not fewer: every hit found so far may be among this tier's best.
            full = Query.boolean_query([(Occur.Must, query), *filters])
            if scored:  # words spelled exactly earn a bonus
                return searcher.search(full, limit, count=False, weight_by_field="prior").hits
            # all hits of a tier are equal: the prior alone orders them, at less cost
            base = _TIER_BASE[tier]
            ordered = searcher.search(full, limit, count=False, order_by_field="prior")
            return [(base * math.log2(2 + prior), address) for prior, address in ordered.hits]

        def run(
            tier: MatchTier, make: Callable[[bool], Query], *, top: bool, scored: bool = False
        ) -> None:
            """Add the tier's best hits. With ``top``, first among top documents only: if
            they alone fill the page, no other document could rank among them, and the
            (five times more numerous) rest is never scanned."""
            hits: list[tuple[float, DocAddress]] = []
            if top and not scored:
                hits = [h for h in best(tier, make(True), scored) if _key(h[1]) not in seen]
            if len(hits) < limit - len(found):
                hits = best(tier, make(False), scored)
            for score, address in hits:
                if _key(address) not in seen and len(found) < limit:
                    seen.add(_key(address))
                    found.append((score, address, tier))

        if not parsed.text:
            filtered = parsed.types or parsed.owners or parsed.tags or entity_type is not None
            if filtered or parsed.everything:
                run("filter", lambda _top: Query.all_query(), top=False)  # list the matches
        else:
            for tier in ("exact", "prefix", "words", "fuzzy", "other"):
                if len(found) >= limit or (tier != "exact" and not words):
                    break
                if tier == "exact":
                    run(tier, lambda _top: self._exact(parsed.text), top=False)
                elif tier == "prefix":
                    run(tier, partial(self._prefix, words), top=True)
                elif tier == "words":
                    run(tier, partial(self._words, words), top=True)
                elif tier == "fuzzy":
                    if typos := self._misspelled(searcher, words, found=bool(found)):
                        misspelled, scored = typos
                        make = partial(self._fuzzy, words, misspelled, scored)
                        run(tier, make, top=True, scored=scored)
                else:
                    run(tier, lambda _top: self._other(searcher, words), top=False)

        hits = []
        highlight = _Highlighter(parsed.text, words)
        for score, address, tier in found:
            stored = searcher.doc(address)
            name = stored.get_first("name") or ""
            hits.append(
                SearchHit(
                    id=stored.get_first("id") or "",
                    entity_type=stored.get_first("entity_type") or "",
                    name=name,
                    score=score,
                    highlights={"name": highlight(name, tier)},
                    status=stored.get_first("status") or "resolved",
                    match=tier,
                )
            )
        return hits

    def _filters(
        self, parsed: SearchQuery, entity_type: str | None, include_deleted: bool
    ) -> list[tuple[Occur, Query]] | None:
        """Boolean clauses for the filters (scoring 0), or None if nothing can match."""
        types = set(parsed.types)
        if entity_type is not None:
            et = _TYPE_ALIASES.get(_type_key(entity_type))
            if et is None:
                raise QueryError(f"unknown type {entity_type!r}")
            if types and et not in types:
                return None
            types = {et}
        clauses: list[tuple[Occur, Query]] = []
        if not include_deleted:
            clauses.append((Occur.MustNot, self._term("status", "deleted")))
        if types:
            by_type = Query.term_set_query(self._schema, "entity_type", [t.value for t in types])
            clauses.append((Occur.Must, Query.const_score_query(by_type, 0.0)))
        for field_name, values in (("owner", parsed.owners), ("tag", parsed.tags)):
            for value in values:
                term = self._term(field_name, self._keyword(value))
                clauses.append((Occur.Must, Query.const_score_query(term, 0.0)))
        return clauses

    # -- the tiers (see the module docstring) --

    def _exact(self, text: str) -> Query:
        keyword = self._keyword(text)
        exact = [self._term("name", keyword), self._term("native", keyword)]
        if text.startswith("aip://"):
            exact.append(self._term("id", text))
        return _any(exact)

    def _prefix(self, words: list[str], top: bool) -> Query:
        normalized = " ".join(words)
        prefix = self._term(_field("name_prefix", top), normalized[:NAME_PREFIX_CHARS])
        if len(normalized) <= NAME_PREFIX_CHARS:
            return prefix
        # Past the indexed n-grams: the longest one, and every query word starting a name word
        # (as all of them do in a name the query is a prefix of).
        return _all([prefix, *(self._word_prefix(w, top) for w in words)])

    def _words(self, words: list[str], top: bool) -> Query:
        return _all([self._word_prefix(w, top) for w in words])

    def _misspelled(
        self, searcher: tantivy.Searcher, words: list[str], *, found: bool
    ) -> tuple[set[str], bool] | None:
        """The words the fuzzy tier expands, and whether exactly spelled words then score.

        A word that starts no name word is misspelled, and only those are expanded. If every
        word is spelled like some name word, the words tier already found what they spell;
        only when it and the tiers above found nothing at all are they all taken as possibly
        misspelled (a mistyped date is still a date), and then the words that match exactly
        earn a bonus. None when there is nothing to expand.
        """
        misspelled = {
            w
            for w in words
            if _fuzzy_distance(w)
            and not searcher.doc_freq("name_word_prefix", w[:WORD_PREFIX_CHARS])
        }
        scored = not misspelled
        if scored and not found:
            misspelled = {w for w in words if _fuzzy_distance(w)}
        return (misspelled, scored) if misspelled else None

    def _fuzzy(self, words: list[str], misspelled: set[str], scored: bool, top: bool) -> Query:
        """Every word matches a name word, the misspelled ones within their edit budget."""
        conditions: list[Query] = []
        for word in words:
            if word in misspelled:
                # A prefix, as in the words tier: the last word may still be being typed.
                near = Query.fuzzy_term_query(
                    self._schema,
                    _field("name_words", top),
                    word,
                    distance=_fuzzy_distance(word),
                    transposition_cost_one=True,
                    prefix=True,
                )
                conditions.append(near)
            else:
                conditions.append(self._word_prefix(word, top))
        matched = Query.const_score_query(_all(conditions), _TIER_BASE["fuzzy"])
        if not scored:
            return matched
        bonus = _TIER_BASE["fuzzy"] * _MAX_BONUS / len(words)
        bonuses = [
            (Occur.Should, Query.const_score_query(self._word_prefix(w, top), bonus)) for w in words
        ]
        return Query.boolean_query([(Occur.Must, matched), *bonuses])

    def _other(self, searcher: tantivy.Searcher, words: list[str]) -> Query:
        """Every word is a word of the name or the other text (which has the name's words
        too); only the last may be unfinished, and only if it is a word of no text. Finished
        words are single terms, intersected without merging postings: this broad tier stays
        cheap for long queries."""
        *finished, last = words
        if len(last) < 3 or searcher.doc_freq("text", last):
            in_text = self._term("text", last)
        else:  # walks the text vocabulary, so only for a prefix of 3+ letters
            in_text = Query.fuzzy_term_query(self._schema, "text", last, 0, True, True)
        last_query = _any([self._word_prefix(last, top=False), in_text])
        return _all([*(self._term("text", w) for w in finished), last_query])

    def _word_prefix(self, word: str, top: bool) -> Query:
        """Name words starting with ``word`` (cut to the longest n-gram indexed)."""
        return self._term(_field("name_word_prefix", top), word[:WORD_PREFIX_CHARS])

    def _term(self, field_name: str, value: str) -> Query:
        return Query.term_query(self._schema, field_name, value)

    def _keyword(self, value: str) -> str:
        """``value`` as the keyword analyzer indexes it (lowercased exactly like tantivy)."""
        tokens = self._analyzers["mds_keyword"].analyze(value)
        return tokens[0] if tokens else ""


def _native_id(xid: str) -> str:
    """``12345/2`` of ``aip://ab-test-cell/experiments/12345/2``: what the source calls it."""
    return xid.removeprefix("aip://").split("/", 2)[-1]


def _field(name: str, top: bool) -> str:
    return f"{name}_top" if top else name


def _key(address: DocAddress) -> tuple[int, int]:
    return address.segment_ord, address.doc


def _all(queries: list[Query]) -> Query:
    return (
        queries[0] if len(queries) == 1 else Query.boolean_query([(Occur.Must, q) for q in queries])
    )


def _any(queries: list[Query]) -> Query:
    return Query.boolean_query([(Occur.Should, q) for q in queries])


# --- highlighting -----------------------------------------------------------------------------

_NAME_WORD_RE: Final = re.compile(r"[^\W_]+")
_HTML_SPECIAL: Final = re.compile(r"[&<>]")


def _fold(text: str) -> str:
    """Lowercase and strip accents char by char, so offsets still index the original."""
    if text.isascii():
        return text.lower()
    folded = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)[0].lower()
        folded.append(base if len(base) == 1 else ch)
    return "".join(folded)


class _Highlighter:
    """Marks, in hit names, what one query matched: built once per search, used per hit."""

    def __init__(self, text: str, words: list[str]) -> None:
        self._text = _fold(text)
        self._words = words
        # longest first, to mark all that a query word matched
        self._longest_first = sorted(set(words), key=len, reverse=True)

    def __call__(self, name: str, tier: MatchTier) -> str:
        """``name`` HTML-escaped with the parts the query matched in ``<b>..</b>``.

        Marks the typed part of each name word a query word starts, and, for a fuzzy hit,
        the whole of each name word within a query word's edit budget. Marks separated only
        by separators merge: ``ranking mo`` shows as ``<b>ranking-mo</b>del``.
        """
        folded = _fold(name)
        escape = _escape if _HTML_SPECIAL.search(name) else str
        if tier == "exact" and folded == self._text:
            return f"<b>{escape(name)}</b>"
        spans = self._prefixes(folded)
        if tier == "fuzzy":
            spans = sorted(spans + self._near(folded, spans))
        out: list[str] = []
        pos = mark = 0
        for start, end in spans:
            if out and not _NAME_WORD_RE.search(folded, pos, start):
                out[-1] = f"<b>{escape(name[mark:end])}</b>"  # only separators between: merge
            else:
                out += (escape(name[pos:start]), f"<b>{escape(name[start:end])}</b>")
                mark = start
            pos = end
        out.append(escape(name[pos:]))
        return "".join(out)

    def _prefixes(self, folded: str) -> list[tuple[int, int]]:
        """Where a query word starts a name word. Query words are alphanumeric runs, as
        name words are, so a match never spans two name words. (A regex of the query words
        did the same, but compiling it cost more than the rest of a search's highlighting.)
        """
        spans = []
        for match in _NAME_WORD_RE.finditer(folded):
            start = match.start()
            for word in self._longest_first:
                if folded.startswith(word, start):
                    spans.append((start, start + len(word)))
                    break
        return spans

    def _near(self, folded: str, marked: list[tuple[int, int]]) -> list[tuple[int, int]]:
        starts = {start for start, _ in marked}
        near = []
        for m in _NAME_WORD_RE.finditer(folded):
            if m.start() in starts:
                continue
            name_word = m.group()
            for word in self._words:
                distance = _fuzzy_distance(word)
                if distance and (
                    Levenshtein.distance(word, name_word[: len(word)], score_cutoff=distance)
                    <= distance
                    or Levenshtein.distance(word, name_word, score_cutoff=distance) <= distance
                ):
                    near.append(m.span())
                    break
        return near


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
