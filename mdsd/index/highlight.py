"""Highlighting of search hits: the parts of each hit's name that the query matched.

Separate from the index because it works on plain strings: the hit names a search found
and the analyzed query words, never on tantivy.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Final

from rapidfuzz.distance import Levenshtein

from mdsd.index.ranking import MatchTier, fuzzy_distance

__all__ = ["Highlighter"]

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


class Highlighter:
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
                distance = fuzzy_distance(word)
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
