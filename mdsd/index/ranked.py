"""A text query's best hits: tier by tier, or the best tiers in one tantivy search.

Tier by tier is what keeps as-you-type queries cheap: ``tra`` matches a tenth of a graph,
but its exact and prefix tiers (among top documents first) fill the page and the broad
tiers below are never scanned. A query that matches few documents (a whole name, a typo in
one) fills no page early, and tier by tier it ran six to eight searches, top documents
first and then all of them, most finding nothing after intersecting long postings (a typo's
words tier intersects the n-grams of its right words before learning that one word starts
no name word); the fuzzy tier walked the term dictionary twice. At a million names an exact
query took 2.4x and a typo 2.9x the time raw tantivy took for the same job (on an
independent set of names).

So the tiers' sizes are bounded first, from term statistics (``TierSizes``, a few term
lookups): a tier bounded by 0 is not searched, top documents are not searched first
when the tier cannot fill the page anyway, and the best tiers whose bounds sum to at most
``AT_ONCE_DOCS`` go into one disjunction-max query, each scoring its base times the prior
factor, as alone. Both ways give the same hits, ties in any order (a property test holds
them to it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import tantivy
from tantivy import DocAddress, Occur, Query

from mdsd.index.ranking import TIER_BASE, MatchTier
from mdsd.index.tiers import TierQueries, TierSizes

__all__ = ["AT_ONCE_DOCS", "Found", "ranked"]

#: Up to how many documents (the tiers' summed bounds) the best tiers are searched at once:
#: beyond, a broad tier is better left to the top documents first, and to a full page that
#: may make it unnecessary.
AT_ONCE_DOCS = 4000
#: tiers in rank order
_TIERS: Final[tuple[MatchTier, ...]] = ("exact", "prefix", "words", "fuzzy", "other")
#: tiers whose fields are indexed a second time for top documents only
_TOPPED: Final = frozenset({"prefix", "words", "fuzzy"})

#: a hit: its score, where it is, the tier that found it
Found = tuple[float, DocAddress, MatchTier]
Filters = list[tuple[Occur, Query]]


def ranked(
    searcher: tantivy.Searcher,
    tiers: TierQueries,
    text: str,
    words: list[str],
    filters: Filters,
    limit: int,
) -> list[Found]:
    """The best ``limit`` hits for ``text`` (analyzed into ``words``), best first.

    The best tiers whose bounds sum to at most ``AT_ONCE_DOCS`` are searched at once, the
    rest one by one as long as the page is not full."""
    sizes = TierSizes(searcher, tiers, text, words)
    page = _Page(searcher, tiers, text, words, filters, limit, sizes)
    together: list[MatchTier] = []
    total = 0
    for tier in _TIERS if words else ("exact",):
        # With no word misspelled, the fuzzy tier expands every word, and only if the tiers
        # above find nothing: it is left out of a search at once and run after it if so.
        if tier == "fuzzy" and tiers.misspelled(sizes.counts, found=True) is None:
            together.append(tier)
            continue
        size = sizes[tier]
        if size is None or total + size > AT_ONCE_DOCS:
            break
        total += size
        together.append(tier)
    if len(together) < 2:  # one tier alone is searched as it would be by itself
        together = []
    page.at_once([tier for tier in together if sizes[tier]])
    deferred = "fuzzy" in together and sizes["fuzzy"] is None
    if deferred and all(tier == "other" for _, _, tier in page.found):
        page.fuzzy_before_other()
    for tier in _TIERS[len(together) :]:
        if page.full() or (tier != "exact" and not words):
            break
        if sizes[tier] != 0:
            page.alone(tier, sizes[tier])
    return page.found


@dataclass
class _Page:
    """The hits found so far for one search, on one searcher."""

    searcher: tantivy.Searcher
    tiers: TierQueries
    text: str
    words: list[str]
    filters: Filters
    limit: int
    sizes: TierSizes
    found: list[Found] = field(default_factory=list)
    seen: set[tuple[int, int]] = field(default_factory=set)

    def full(self) -> bool:
        return len(self.found) >= self.limit

    def at_once(self, together: list[MatchTier]) -> None:
        """One search of these tiers (the best ones; none expands words by what the others
        found), each scoring as when searched alone, a document as the best tier it
        matches."""
        if not together:
            return
        parts = [self._query(tier, top=False) for tier in together]
        either = Query.disjunction_max_query(parts, 0.0)
        query = Query.boolean_query([(Occur.Must, either), *self.filters])
        hits = self.searcher.search(query, self.limit, count=False, weight_by_field="prior")
        self._add([(score, address, _tier_of(score)) for score, address in hits.hits])

    def fuzzy_before_other(self) -> None:
        """The fuzzy tier after a search at once that found only other hits (if any): they
        go after its hits, as they would have tier by tier."""
        others, self.found, self.seen = self.found, [], set()
        self.alone("fuzzy", None)
        self._add(others)

    def alone(self, tier: MatchTier, size: int | None) -> None:
        """Add the best hits of one tier, searched by itself. Tiers with top documents
        (prefix, words, unscored fuzzy) look among those first: if they alone fill the
        page, no other document could rank among them, and the (five times more numerous)
        rest is never scanned. Not when the tier matches too few documents (``size``) to
        fill it: the top documents are some of them."""
        if tier == "fuzzy":  # which words it expands depends on whether anything was found
            typos = self.tiers.misspelled(self.sizes.counts, found=bool(self.found))
            if typos is None:
                return
            scored = typos[1]
        else:
            scored = False
        needed = self.limit - len(self.found)
        hits: list[tuple[float, DocAddress]] = []
        if tier in _TOPPED and not scored and (size is None or size >= needed):
            hits = [h for h in self._best(tier, True, scored) if _key(h[1]) not in self.seen]
        if len(hits) < needed:
            hits = self._best(tier, False, scored)
        self._add([(score, address, tier) for score, address in hits])

    def _query(self, tier: MatchTier, top: bool) -> Query:
        """A tier's query, scoring its base (and the fuzzy tier's bonuses when scored)."""
        tiers, words = self.tiers, self.words
        if tier == "exact":
            query = tiers.exact(self.text)
        elif tier == "prefix":
            query = tiers.prefix(words, top)
        elif tier == "words":
            query = tiers.words(words, top)
        elif tier == "fuzzy":
            typos = tiers.misspelled(self.sizes.counts, found=bool(self.found))
            assert typos is not None  # asked only when there is something to expand
            return tiers.fuzzy(words, *typos, top)
        else:
            query = tiers.other(self.searcher, words)
        return Query.const_score_query(query, TIER_BASE[tier])

    def _best(self, tier: MatchTier, top: bool, scored: bool) -> list[tuple[float, DocAddress]]:
        # ``limit`` and not fewer: every hit found so far may be among this tier's best.
        full = Query.boolean_query([(Occur.Must, self._query(tier, top)), *self.filters])
        if scored:  # words spelled exactly earn a bonus
            return self.searcher.search(full, self.limit, count=False, weight_by_field="prior").hits
        # all hits of a tier are equal: the prior alone orders them, at less cost
        base = TIER_BASE[tier]
        ordered = self.searcher.search(full, self.limit, count=False, order_by_field="prior")
        return [(base * math.log2(2 + weight), address) for weight, address in ordered.hits]

    def _add(self, hits: list[Found]) -> None:
        for score, address, tier in hits:
            key = _key(address)
            if key not in self.seen and len(self.found) < self.limit:
                self.seen.add(key)
                self.found.append((score, address, tier))


def _tier_of(score: float) -> MatchTier:
    """The tier whose band a score of one search of several tiers lies in (the bands cannot
    overlap: ``TIER_BASE``); a little below a base is that tier, for float32 scores."""
    return next(tier for tier in _TIERS if score >= TIER_BASE[tier] * (1 - 1e-6))


def _key(address: DocAddress) -> tuple[int, int]:
    return address.segment_ord, address.doc
