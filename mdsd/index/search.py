"""The search index: as-you-type lookup of entities by name, on tantivy.

It plays Elasticsearch's role for mds: the TUI sends one query per keystroke, so a search
must answer in a few milliseconds over a million entities, and the daemon feeds it from the
fact store in batches.

Relevance is tiered, and the tiers are strict (every hit of a tier ranks above every hit of
the next): ``exact``, ``prefix``, ``words``, ``fuzzy``, ``other`` (what each matches:
``mdsd.index.tiers``; the order within a tier: ``mdsd.index.ranking``).

Tiers are searched best first, and the search stops as soon as ``limit`` hits are found:
as-you-type queries are nearly always answered by the exact and prefix tiers and never pay
for the others. What a search costs is the number of documents a tier matches, all of which
must be ordered by prior: ``tra`` matches a tenth of a graph. So the name fields are indexed
twice, the second time for the top documents only (the resolved canonical ones, a fifth of a
graph, whose prior is above every other's); a tier first looks there, and only if they cannot
fill the page goes on to every document. A query whose tiers match few documents (a whole
name, a typo) fills no page early: its best tiers are searched in one go instead
(``mdsd.index.ranked``).

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
import json
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import tantivy
from tantivy import Occur, Query

from mds.wire.model import EntityType
from mdsd.base.files import write_json
from mdsd.index.grammar import parse_query
from mdsd.index.highlight import Highlighter
from mdsd.index.ranked import Found, ranked
from mdsd.index.ranking import TIER_BASE, TOP_PRIOR, MatchTier, listing_key, prior
from mdsd.index.schema import (
    LAYOUT_FINGERPRINT,
    STATUSES,
    SearchDoc,
    Status,
    analyzers,
    build_schema,
    native_id,
)
from mdsd.index.tiers import TierQueries

__all__ = ["MAX_SEARCH_LIMIT", "Hits", "IndexFollower", "SearchHit", "SearchIndex", "Searching"]

#: the most hits one search answers
MAX_SEARCH_LIMIT: Final = 500
#: a follower's tries at loading the writer's last commit
FOLLOW_ATTEMPTS: Final = 3


@dataclass(slots=True)
class SearchHit:
    """One entity a search found, with what it matched and how well."""

    id: str
    entity_type: str
    name: str
    score: float
    #: field -> HTML-escaped text with the matched parts in ``<b>..</b>``; always has "name"
    highlights: dict[str, str]
    status: Status
    #: the relevance tier that found this hit (see ``mdsd.index.tiers``)
    match: MatchTier


_SIDECAR = "mds-search.json"


class Searching:
    """Searches of a tantivy index of ``SearchDoc``: the writer's and its followers'."""

    _index: tantivy.Index

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._analyzers = analyzers()
        self._schema = build_schema()
        self._tiers = TierQueries(self._schema, self._analyzers["mds_keyword"])

    def _register(self, index: tantivy.Index) -> None:
        for name, analyzer in self._analyzers.items():
            index.register_tokenizer(name, analyzer)
        index.config_reader(reload_policy="Manual")

    def _searcher(self) -> tantivy.Searcher:
        return self._index.searcher()

    def kinds(self) -> dict[str, int]:
        """How many entities of each kind the index holds, deleted ones left out: one
        counting query per kind, milliseconds, for a home screen's overview."""
        searcher = self._searcher()
        deleted = Query.term_query(self._schema, "status", "deleted")
        found = {}
        for kind in EntityType:
            query = Query.boolean_query(
                [
                    (Occur.Must, Query.term_query(self._schema, "entity_type", str(kind))),
                    (Occur.MustNot, deleted),
                ]
            )
            result = searcher.search(query, 1, count=True)
            count = int(result.count)  # type: ignore[attr-defined]  # missing from its stub
            if count:
                found[str(kind)] = count
        return found

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
        return list(
            self.hits(query, entity_type=entity_type, limit=limit, include_deleted=include_deleted)
        )

    def hits(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        include_deleted: bool = False,
    ) -> Hits:
        """As ``search``, each hit read from the index only when iterated to."""
        parsed = parse_query(query)
        filters = self._tiers.filters(parsed, entity_type, include_deleted)
        searcher = self._searcher()
        if filters is None or limit <= 0:
            return Hits(searcher, [], Highlighter("", []))
        words = self._analyzers["mds_words"].analyze(parsed.text) if parsed.text else []
        found: list[Found] = []
        if parsed.text:
            found = ranked(searcher, self._tiers, parsed.text, words, filters, limit)
        elif parsed.types or parsed.owners or parsed.tags or entity_type or parsed.everything:
            found = _listed(searcher, filters, limit)
        return Hits(searcher, found, Highlighter(parsed.text, words))


class Hits:
    """A search's hits, best first, each read from the index (its stored fields, its
    highlight) only when iterated to. A search of the past asks the index for several pages
    and keeps the hits that existed then: reading all of them cost it 4x a search of now."""

    def __init__(
        self, searcher: tantivy.Searcher, found: list[Found], highlight: Highlighter
    ) -> None:
        self._searcher = searcher
        self._found = found
        self._highlight = highlight

    def __len__(self) -> int:
        return len(self._found)

    def __iter__(self) -> Iterator[SearchHit]:
        for score, address, tier in self._found:
            stored = self._searcher.doc(address)
            name = stored.get_first("name") or ""
            yield SearchHit(
                id=stored.get_first("id") or "",
                entity_type=stored.get_first("entity_type") or "",
                name=name,
                score=score,
                highlights={"name": self._highlight(name, tier)},
                status=stored.get_first("status") or "resolved",
                match=tier,
            )


class IndexFollower(Searching):
    """A read-only view of the index another process writes at ``path`` (one that exists):
    each search first sees the writer's last commit. For reads in worker processes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._index = tantivy.Index.open(str(self.path))
        self._register(self._index)

    def _searcher(self) -> tantivy.Searcher:
        for attempt in range(FOLLOW_ATTEMPTS):
            try:
                self._index.reload()
                break
            except ValueError:  # a merged segment deleted between its listing and its open
                if attempt == FOLLOW_ATTEMPTS - 1:
                    raise
        return self._index.searcher()


class SearchIndex(Searching):
    """A tantivy index of ``SearchDoc`` at ``path`` (a directory it owns).

    Opening an index written with another layout, or one that fails to open, recreates it
    empty (``indexed_tx`` is then None, which tells the daemon to rebuild it). Writes are
    serialized internally; searches may run concurrently from any thread. Only one instance
    may be open on a path at a time (tantivy's writer lock).

    ``writer_heap_mb`` bounds the indexing memory; a bigger heap means fewer, larger segments
    during a rebuild (the benchmark uses 256).
    """

    def __init__(self, path: Path, *, writer_heap_mb: int = 64) -> None:
        super().__init__(path)
        self._lock = threading.Lock()
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
        #: bumped by every commit that changes what a search sees; ``kinds`` is counted
        #: once per value (``mds status``, which the explorer polls every 3 s, asked for
        #: its 13 counting queries on every call)
        self._generation = 0
        self._kinds: tuple[int, dict[str, int]] | None = None

    # -- lifecycle --

    def _open_or_create(self) -> tuple[tantivy.Index, int | None]:
        sidecar = self._read_sidecar()
        if sidecar is not None and sidecar.get("layout") == LAYOUT_FINGERPRINT:
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
        write_json(self.path / _SIDECAR, {"layout": LAYOUT_FINGERPRINT, "indexed_tx": indexed_tx})

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
                if doc.status not in STATUSES:
                    raise ValueError(f"status must be one of {sorted(STATUSES)}: {doc.status!r}")
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
                self._generation += 1
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
        rank = prior(doc)
        names = {"name_prefix": " ".join(words), "name_word_prefix": words, "name_words": words}
        if rank >= TOP_PRIOR:
            names |= {f"{name}_top": value for name, value in names.items()}
        return tantivy.Document(
            id=doc.id,
            entity_type=doc.entity_type,
            status=doc.status,
            name=doc.name,
            native=native_id(doc.id),
            owner=owner_keys,
            tag=[*doc.tags, *(tag.split("=", 1)[0] for tag in doc.tags if "=" in tag)],
            text=[doc.name, doc.description, *doc.owner_names, *doc.tags, *doc.related_names],
            prior=rank,
            listing=listing_key(doc),
            **names,
        )

    # -- reads --

    def kinds(self) -> dict[str, int]:
        """As ``Searching.kinds``, counted once per commit: between two commits a call
        costs nothing. A commit during the count labels the newer counts with the older
        generation, so the next call counts again; it never keeps counts older than their
        label."""
        generation = self._generation
        kept = self._kinds
        if kept is not None and kept[0] == generation:
            return kept[1]
        counted = super().kinds()
        self._kinds = (generation, counted)
        return counted

    def count(self) -> int:
        """Committed documents, whatever their status."""
        return self._index.searcher().num_docs


def _listed(
    searcher: tantivy.Searcher, filters: list[tuple[Occur, Query]], limit: int
) -> list[Found]:
    """A listing (filters and no words): by group, then name (``listing_key``)."""
    query = Query.boolean_query([(Occur.Must, Query.all_query()), *filters])
    listed = searcher.search(
        query, limit, count=False, order_by_field="listing", order=tantivy.Order.Asc
    )
    return [(TIER_BASE["filter"], address, "filter") for _, address in listed.hits]
