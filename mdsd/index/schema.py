"""The search index's layout: the document the daemon feeds it, the tantivy fields, analyzers.

One tantivy document per entity:

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
listing            text fast field (raw)                    order of a listing (no words)
=================  =======================================  ==========================

The normalized name is the name's words joined by single spaces (``playback-events@2025``
is ``playback events 2025``), so a prefix typed with other separators still matches.

The layout has a fingerprint: an index written with another layout is rebuilt on open.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, Literal

import tantivy
from tantivy import Filter, TextAnalyzer, TextAnalyzerBuilder, Tokenizer

__all__ = [
    "LAYOUT_FINGERPRINT",
    "NAME_PREFIX_CHARS",
    "STATUSES",
    "WORD_PREFIX_CHARS",
    "SearchDoc",
    "Status",
    "analyzers",
    "build_schema",
    "native_id",
]

Status = Literal["resolved", "stub", "deleted"]
STATUSES: Final = frozenset({"resolved", "stub", "deleted"})


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


#: Longest whole-name prefix indexed as a term. Longer typed prefixes are answered by this
#: prefix plus word conditions; raising it grows the term dictionary with mostly unique terms.
NAME_PREFIX_CHARS: Final = 24
#: Longest word prefix indexed as a term; longer words fall back to a term-dictionary walk.
WORD_PREFIX_CHARS: Final = 16
#: Words longer than this are dropped (hashes, base64): nobody types them.
MAX_WORD_CHARS: Final = 40


def analyzers() -> dict[str, TextAnalyzer]:
    """The analyzers the fields name, to register on every index opened."""

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
LAYOUT_FINGERPRINT: Final = hashlib.sha256(
    repr(
        (2, _TEXT_FIELDS, "listing", NAME_PREFIX_CHARS, WORD_PREFIX_CHARS, MAX_WORD_CHARS)
    ).encode()
).hexdigest()[:16]


def build_schema() -> tantivy.Schema:
    """The tantivy schema of the fields above, plus the ``prior`` and ``listing`` fast
    fields."""
    builder = tantivy.SchemaBuilder()
    for name, stored, analyzer, index_option in _TEXT_FIELDS:
        builder.add_text_field(
            name, stored=stored, tokenizer_name=analyzer, index_option=index_option
        )
    builder.add_float_field("prior", fast=True)
    builder.add_text_field("listing", fast=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def native_id(xid: str) -> str:
    """``12345/2`` of ``aip://ab-test-cell/experiments/12345/2``: what the source calls it."""
    return xid.removeprefix("aip://").split("/", 2)[-1]
