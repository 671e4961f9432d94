"""The tantivy queries behind each relevance tier, and behind a query's filters.

The tiers, best first:

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

Tiers match precomputed terms (edge n-grams of the whole name and of each name word, see
``mdsd.index.schema``), so a prefix is one term lookup, never a walk of the term dictionary;
only fuzzy words and the unfinished last word in other text walk it. Queries that take
``top`` look in the ``*_top`` fields (top documents only) when it is true.
"""

from __future__ import annotations

from functools import cached_property

import tantivy
from tantivy import Occur, Query, TextAnalyzer

from mdsd.index.grammar import QueryError, SearchQuery, entity_type_of
from mdsd.index.ranking import MAX_BONUS, TIER_BASE, MatchTier, fuzzy_distance
from mdsd.index.schema import NAME_PREFIX_CHARS, WORD_PREFIX_CHARS

__all__ = ["TierQueries", "TierSizes"]


class TierQueries:
    """Builds the queries of one index (its schema, its keyword analyzer)."""

    def __init__(self, schema: tantivy.Schema, keyword: TextAnalyzer) -> None:
        self._schema = schema
        self._keyword_analyzer = keyword

    def filters(
        self, parsed: SearchQuery, entity_type: str | None, include_deleted: bool
    ) -> list[tuple[Occur, Query]] | None:
        """Boolean clauses for the filters (scoring 0), or None if nothing can match."""
        types = set(parsed.types)
        if entity_type is not None:
            et = entity_type_of(entity_type)
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

    def exact(self, text: str) -> Query:
        """The whole name or the native id is the query (or the query is the id)."""
        keyword = self._keyword(text)
        exact = [self._term("name", keyword), self._term("native", keyword)]
        if text.startswith("aip://"):
            exact.append(self._term("id", text))
        return _any(exact)

    def prefix(self, words: list[str], top: bool) -> Query:
        """The normalized name starts with the query words."""
        normalized = " ".join(words)
        prefix = self._term(_field("name_prefix", top), normalized[:NAME_PREFIX_CHARS])
        if len(normalized) <= NAME_PREFIX_CHARS:
            return prefix
        # Past the indexed n-grams: the longest one, and every query word starting a name word
        # (as all of them do in a name the query is a prefix of).
        return _all([prefix, *(self._word_prefix(w, top) for w in words)])

    def words(self, words: list[str], top: bool) -> Query:
        """Every query word starts a name word."""
        return _all([self._word_prefix(w, top) for w in words])

    def misspelled(self, counts: dict[str, int], *, found: bool) -> tuple[set[str], bool] | None:
        """The words the fuzzy tier expands, and whether exactly spelled words then score.

        A word that starts no name word is misspelled (``counts``: ``TierSizes.counts``),
        and only those are expanded. If every word is spelled like some name word, the words
        tier already found what they spell; only when it and the tiers above found nothing
        at all are they all taken as possibly misspelled (a mistyped date is still a date),
        and then the words that match exactly earn a bonus. None when there is nothing to
        expand.
        """
        misspelled = {w for w, count in counts.items() if fuzzy_distance(w) and not count}
        scored = not misspelled
        if scored and not found:
            misspelled = {w for w in counts if fuzzy_distance(w)}
        return (misspelled, scored) if misspelled else None

    def fuzzy(self, words: list[str], misspelled: set[str], scored: bool, top: bool) -> Query:
        """Every word matches a name word, the misspelled ones within their edit budget."""
        conditions: list[Query] = []
        for word in words:
            if word in misspelled:
                # A prefix, as in the words tier: the last word may still be being typed.
                near = Query.fuzzy_term_query(
                    self._schema,
                    _field("name_words", top),
                    word,
                    distance=fuzzy_distance(word),
                    transposition_cost_one=True,
                    prefix=True,
                )
                conditions.append(near)
            else:
                conditions.append(self._word_prefix(word, top))
        matched = Query.const_score_query(_all(conditions), TIER_BASE["fuzzy"])
        if not scored:
            return matched
        bonus = TIER_BASE["fuzzy"] * MAX_BONUS / len(words)
        bonuses = [
            (Occur.Should, Query.const_score_query(self._word_prefix(w, top), bonus)) for w in words
        ]
        return Query.boolean_query([(Occur.Must, matched), *bonuses])

    def other(self, searcher: tantivy.Searcher, words: list[str]) -> Query:
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

    def _keyword(self, value: str) -> str:
        """``value`` as the keyword analyzer indexes it (lowercased exactly like tantivy)."""
        tokens = self._keyword_analyzer.analyze(value)
        return tokens[0] if tokens else ""

    def _word_prefix(self, word: str, top: bool) -> Query:
        """Name words starting with ``word`` (cut to the longest n-gram indexed)."""
        return self._term(_field("name_word_prefix", top), word[:WORD_PREFIX_CHARS])

    def _term(self, field_name: str, value: str) -> Query:
        return Query.term_query(self._schema, field_name, value)


def _field(name: str, top: bool) -> str:
    return f"{name}_top" if top else name


def _all(queries: list[Query]) -> Query:
    return (
        queries[0] if len(queries) == 1 else Query.boolean_query([(Occur.Must, q) for q in queries])
    )


def _any(queries: list[Query]) -> Query:
    return Query.boolean_query([(Occur.Should, q) for q in queries])


class TierSizes:
    """Upper bounds on the documents each tier of one query matches (deleted ones too), from
    term statistics alone, each looked up when first asked for: a term lookup costs one
    per segment, and an as-you-type query answered by its prefix tier needs three.

    A tier bounded by 0 need not be searched, and tiers that all match few documents are
    cheaper searched at once. None where only a walk of the term dictionary could tell (a
    misspelled word, an unfinished one in other text, every word when none is misspelled
    and nothing else may be found).
    """

    def __init__(
        self, searcher: tantivy.Searcher, tiers: TierQueries, text: str, words: list[str]
    ) -> None:
        self._searcher = searcher
        self._tiers = tiers
        self._text = text
        self._words = words
        self._known: dict[MatchTier, int | None] = {}

    @cached_property
    def counts(self) -> dict[str, int]:
        """How many documents have a name word each query word starts: one term lookup per
        word, which tells misspelled words (``TierQueries.misspelled``)."""
        doc_freq = self._searcher.doc_freq
        return {w: doc_freq("name_word_prefix", w[:WORD_PREFIX_CHARS]) for w in self._words}

    def __getitem__(self, tier: MatchTier) -> int | None:
        if tier not in self._known:
            self._known[tier] = self._bound(tier) if self._words or tier == "exact" else 0
        return self._known[tier]

    def _bound(self, tier: MatchTier) -> int | None:
        doc_freq, words = self._searcher.doc_freq, self._words
        if tier == "exact":
            keyword = self._tiers._keyword(self._text)
            exact = doc_freq("name", keyword) + doc_freq("native", keyword)
            return exact + (doc_freq("id", self._text) if self._text.startswith("aip://") else 0)
        if tier == "prefix":
            return doc_freq("name_prefix", " ".join(words)[:NAME_PREFIX_CHARS])
        if tier == "words":
            return min(self.counts.values())
        if tier == "fuzzy":
            typos = self._tiers.misspelled(self.counts, found=True)
            if typos is not None:  # every word not misspelled must start a name word
                return min((self.counts[w] for w in words if w not in typos[0]), default=None)
            # with none misspelled, every word is expanded if nothing else is found: a walk
            return None if self._tiers.misspelled(self.counts, found=False) else 0
        # other text: every finished word, and the last as a name word prefix or in text
        *finished, last = words
        in_text = doc_freq("text", last)
        bounds = [doc_freq("text", w) for w in finished]
        if in_text or len(last) < 3:  # else a walk of the text vocabulary: not bounded
            bounds.append(self.counts[last] + in_text)
        return min(bounds, default=None)
