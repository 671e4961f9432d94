"""How search hits are ordered: strict relevance tiers, a static prior within a tier.

Every hit of a tier ranks above every hit of the next (see ``mdsd.index.search`` for what
each tier matches). Within a tier, a static per-document prior decides: resolved canonical
entities (a Model, a Dataset) before the many versions, runs and cells hanging off them,
shorter names first within each (the closest completion of what was typed), stubs last.
"""

from __future__ import annotations

from typing import Final, Literal

from mds.wire.model import EntityType
from mdsd.index.schema import SearchDoc

__all__ = [
    "MAX_BONUS",
    "MAX_PRIOR",
    "TIER_BASE",
    "TOP_PRIOR",
    "MatchTier",
    "fuzzy_distance",
    "prior",
]

MatchTier = Literal["exact", "prefix", "words", "fuzzy", "other", "filter"]

#: Types that have many versions/runs/cells hanging off them; the parent ranks first.
_CANONICAL_TYPES: Final = frozenset(
    {
        EntityType.MODEL,
        EntityType.PIPELINE,
        EntityType.FEATURE,
        EntityType.FEATURE_VIEW,
        EntityType.FEATURE_SERVICE,
        EntityType.DATASET,
        EntityType.AB_TEST,
        EntityType.USER,
        EntityType.TEAM,
    }
)
#: Bounds of the prior; a hit's score is its tier's base times ``log2(2 + prior)`` (what
#: tantivy's ``weight_by_field`` computes), a factor in [1, log2(3)] (see ``TIER_BASE``).
MAX_PRIOR: Final = 1.0
#: Documents with a prior from here up (resolved canonical entities, a fifth of a typical
#: graph) are indexed a second time in the ``*_top`` fields, see ``SearchIndex.search``.
TOP_PRIOR: Final = 0.5


def prior(doc: SearchDoc) -> float:
    """Static within-tier rank: resolved canonical entities, then the rest; shorter names
    first within each (the closest completion of what was typed); stubs last."""
    shortness = 1.0 / (1.0 + len(doc.name) / 12.0)  # in (0, 1]
    rank = 0.5 * shortness + (TOP_PRIOR if doc.entity_type in _CANONICAL_TYPES else 0.0)
    return rank * 0.5 if doc.status == "stub" else rank


def listing_key(doc: SearchDoc) -> str:
    """Order of a listing (filters and no words, ``*``, ``type:model``): canonical entities,
    then the rest, then stubs, each by name. The prior's shortness means "the closest
    completion of what was typed"; with nothing typed it would only sort by length."""
    group = "2" if doc.status == "stub" else "0" if doc.entity_type in _CANONICAL_TYPES else "1"
    return group + doc.name.casefold()


# Tiers are searched one after the other, so their order never depends on scores; scores are
# reported so that they agree with it: a tier's lie in [base, 1.5 * base] * log2(3) (a bonus
# of at most half the base, times the prior factor) < 2.4 * base, below the next tier's base.
TIER_BASE: Final[dict[MatchTier, float]] = {
    "exact": 4.0**5,
    "prefix": 4.0**4,
    "words": 4.0**3,
    "fuzzy": 4.0**2,
    "other": 4.0,
    "filter": 1.0,
}
MAX_BONUS: Final = 0.5


def fuzzy_distance(word: str) -> int:
    """Edits forgiven in a misspelled word: from 3 letters, as a 4-letter word loses one."""
    return 2 if len(word) >= 8 else 1 if len(word) >= 3 else 0
