"""Matching a message against the knowledge base: words, compounds, typos, places.

`Matcher` is built once per knowledge base. It turns a message into an
`Analysis`: for every word position a set of candidate stems (the word's own
stem, a typo correction, the parts of a compound, glossary expansions), the
clause each position belongs to, and the municipalities named in the text.
`find_phrases` then finds keyword phrases in that analysis. Nothing here
decides anything; `bot.router` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.normalize import BREAK, stem, tokens

MAX_GAP = 2  # words allowed between the parts of a keyword phrase
MIN_PREFIX = 4  # shortest known word accepted as the first part of a compound
MIN_SUFFIX = 4  # shortest known word accepted as the last part of a compound


def phrase_stems(text: str) -> tuple[str, ...]:
    """Stems of a keyword phrase as written in the knowledge base."""
    return tuple(stem(t) for t in tokens(text) if t != BREAK)


@dataclass
class Analysis:
    """A message broken into positions with candidate stems; see module docstring."""

    words: list[str]
    alts: list[set[str]]
    clause: list[int]
    municipalities: list[tuple[str, int]] = field(default_factory=list)  # (id, position) in text order

    def words_in(self, positions: Iterable[int]) -> list[str]:
        return [self.words[p] for p in positions]


@dataclass(frozen=True)
class PhraseHit:
    """One keyword phrase found in a message, from `start` to `end` (inclusive)."""

    key: int
    start: int
    end: int


class PhraseSet:
    """A set of keyword phrases (as stem tuples) that can be found in an `Analysis`."""

    def __init__(self, phrases: Iterable[tuple[str, ...]]):
        self.phrases: list[tuple[str, ...]] = []
        self._by_first: dict[str, list[int]] = defaultdict(list)
        for phrase in phrases:
            if not phrase:
                continue
            self._by_first[phrase[0]].append(len(self.phrases))
            self.phrases.append(phrase)

    def find(self, analysis: Analysis) -> list[PhraseHit]:
        """Every occurrence of every phrase, parts in order with at most MAX_GAP words between."""
        hits: list[PhraseHit] = []
        alts, n = analysis.alts, len(analysis.alts)
        for pos in range(n):
            for s in alts[pos]:
                for key in self._by_first.get(s, ()):
                    end = self._match_rest(self.phrases[key], alts, pos, n)
                    if end is not None:
                        hits.append(PhraseHit(key, pos, end))
        return hits

    @staticmethod
    def _match_rest(phrase: tuple[str, ...], alts: list[set[str]], pos: int, n: int) -> int | None:
        last = pos
        for part in phrase[1:]:
            # The same position may hold several parts: a compound ("sexövergrepp")
            # or a glossary expansion ("hemmasittare" -> problematisk skolfrånvaro).
            for nxt in range(last, min(n, last + 2 + MAX_GAP)):
                if part in alts[nxt]:
                    last = nxt
                    break
            else:
                return None
        return last


class Matcher:
    """Turns messages into `Analysis` objects using the knowledge base's vocabulary."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        glossary: dict[tuple[str, ...], tuple[str, ...]],
        places: dict[tuple[str, ...], str],
        municipality_names: dict[str, str],
        abbreviations: Iterable[str] = (),
    ):
        """Builds the lookups.

        vocabulary: folded words from every text of the knowledge base.
        glossary: folded term words -> stems it expands to.
        places: folded name/alias/locality words -> municipality id.
        municipality_names: folded single-word municipality name -> id (for typo matching).
        abbreviations: short words (bup, soc, eht) allowed as the first part of a compound.
        """
        self.words = frozenset(vocabulary)
        self.stems = frozenset(stem(w) for w in self.words)
        self._known = self.words | self.stems
        self._word_list = sorted(w for w in self.words if len(w) >= 4 and not w.isdigit())
        self.glossary = glossary
        self._glossary_max = max((len(k) for k in glossary), default=1)
        self.places = places
        self._places_max = max((len(k) for k in places), default=1)
        self.municipality_names = municipality_names
        self._municipality_list = [n for n in municipality_names if len(n) >= 6]
        self.abbreviations = frozenset(abbreviations)
        self._expand = lru_cache(maxsize=32768)(self._expand_word)

    # -- words ---------------------------------------------------------------

    def _expand_word(self, word: str) -> frozenset[str]:
        """Candidate stems for one folded word: itself, compound parts, or a typo correction."""
        s = stem(word)
        out = {s}
        if word.isdigit() or s in self._known or word in self._known:
            return frozenset(out)
        parts = self._split_compound(word, s)
        if parts:
            return frozenset(out | parts)
        if len(word) >= 5:
            fixed = self._correct(word)
            if fixed:
                out.add(stem(fixed))
                out.update(self._split_compound(fixed, stem(fixed)))
        return frozenset(out)

    def _split_compound(self, word: str, word_stem: str) -> set[str]:
        """Known first and last parts of a compound ("självskadebeteende" → självskad, beteend)."""
        parts: set[str] = set()
        # Longest known prefix; what follows may start with a linking s or e.
        for cut in range(len(word) - 1, MIN_PREFIX - 1, -1):
            head = word[:cut]
            if head in self._known or (len(head) <= 4 and head in self.abbreviations):
                parts.add(stem(head))
                rest = word[cut:]
                for tail in (rest, rest[1:] if rest[:1] in "se" else ""):
                    if len(tail) >= 3 and (tail in self._known or stem(tail) in self._known):
                        parts.add(stem(tail))
                        break
                break
        else:
            for abbr in self.abbreviations:
                if word.startswith(abbr) and len(word) - len(abbr) >= 4:
                    tail = word[len(abbr) :]
                    if tail in self._known or stem(tail) in self._known:
                        parts.update({stem(abbr), stem(tail)})
        # Longest known suffix (the head of a Swedish compound carries the meaning).
        for cut in range(1, len(word_stem) - MIN_SUFFIX + 1):
            tail = word_stem[cut:]
            if tail in self.stems and len(tail) >= MIN_SUFFIX:
                parts.add(tail)
                break
        return parts

    def _correct(self, word: str) -> str | None:
        """The closest known word for a misspelled one (one edit per five letters)."""
        cutoff = 0.8 if len(word) < 9 else 0.78
        best = process.extractOne(
            word, self._word_list, scorer=Levenshtein.normalized_similarity, score_cutoff=cutoff
        )
        return best[0] if best else None

    # -- places --------------------------------------------------------------

    def _place_at(self, words: list[str], i: int) -> tuple[str, int] | None:
        """The municipality named at position i and how many words the name takes."""
        for n in range(min(self._places_max, len(words) - i), 0, -1):
            key = tuple(words[i : i + n])
            if BREAK in key:
                continue
            if key in self.places:
                return self.places[key], n
            if key[-1].endswith("s") and len(key[-1]) > 3:
                genitive = (*key[:-1], key[-1][:-1])
                if genitive in self.places:
                    return self.places[genitive], n
        word = words[i]
        if len(word) >= 6 and word not in self.words and self._municipality_list:
            best = process.extractOne(
                word, self._municipality_list, scorer=Levenshtein.normalized_similarity, score_cutoff=0.8
            )
            if best:
                return self.municipality_names[best[0]], 1
        return None

    # -- whole messages ------------------------------------------------------

    def analyse(self, text: str) -> Analysis:
        """Breaks a message into positions with candidate stems, clauses and named places."""
        words = tokens(text)
        alts: list[set[str]] = []
        clause: list[int] = []
        current = 0
        for w in words:
            if w == BREAK:
                current += 1
                alts.append(set())
            else:
                alts.append(set(self._expand(w)))
            clause.append(current)
        analysis = Analysis(words, alts, clause)
        i = 0
        while i < len(words):
            found = self._place_at(words, i) if words[i] != BREAK else None
            if found:
                municipality, n = found
                analysis.municipalities.append((municipality, i))
                for p in range(i, i + n):
                    alts[p] = set()  # a place name says where, not what
                i += n
                continue
            i += 1
        self._apply_glossary(analysis)
        return analysis

    def _apply_glossary(self, analysis: Analysis) -> None:
        words = analysis.words
        for i in range(len(words)):
            for n in range(min(self._glossary_max, len(words) - i), 0, -1):
                key = tuple(words[i : i + n])
                expansion = self.glossary.get(key)
                if expansion:
                    analysis.alts[i].update(expansion)
                    break
            else:
                # A glossary abbreviation as the first part of a compound ("bupkontakt").
                s = words[i]
                for abbr in self.abbreviations:
                    if s != abbr and s.startswith(abbr) and (abbr,) in self.glossary:
                        analysis.alts[i].update(self.glossary[(abbr,)])
                        break
