"""Matching a message against the knowledge base: words, compounds, typos, places.

`Matcher` is built once per knowledge base. It turns a message into an
`Analysis`: for every word position a set of candidate stems (the word's own
stem, a typo correction, the parts of a compound, glossary expansions), the
clause each position belongs to, and the municipalities named in the text.
`find_phrases` then finds keyword phrases in that analysis. Nothing here
decides anything; `bot.core.router` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from bot.text.normalize import BREAK, fold, sentences, stem, words

MAX_GAP = 2  # words allowed between the parts of a keyword phrase
MIN_PREFIX = 4  # shortest known word accepted as the first part of a compound
MIN_SUFFIX = 4  # shortest known word accepted as the last part of a compound
INFLECTIONS = ("", "en", "et", "er", "ar", "or", "na", "n", "t", "s", "a", "e")  # endings a compound's last part may carry
SCHOOL_SUFFIXES = ("forskolan", "forskola", "skolan", "skola", "gymnasiet")
# Particles that make derived words rather than compounds (folded).
PARTICLES = frozenset(
    {"over", "under", "samman", "sam", "upp", "till", "efter", "fore", "genom", "mot", "bort", "fram",
     "ater", "med", "om", "av", "ut", "in", "pa", "for", "be", "ge", "van", "and", "ovan", "bak"}
)  # fmt: skip


def phrase_stems(text: str) -> tuple[str, ...]:
    """Stems of a keyword phrase as written in the knowledge base."""
    return tuple(stem(w) for w in words(text) if w != BREAK)


@dataclass
class Analysis:
    """A message broken into positions with candidate stems; see module docstring."""

    words: list[str]  # folded words and "." clause breaks
    alts: list[set[str]]
    clause: list[int]
    sentence: list[int] = field(default_factory=list)  # sentence number of each position
    municipalities: list[tuple[str, int]] = field(default_factory=list)  # (id, position) in text order


@dataclass(frozen=True)
class PhraseHit:
    """One keyword phrase found in a message, from `start` to `end` (inclusive)."""

    key: int
    start: int
    end: int


class PhraseSet:
    """A set of keyword phrases (as stem tuples) that can be found in an `Analysis`.

    A phrase with a negation in it ("vågar inte gå hem") also matches with the
    negation before the verb, as Swedish subordinate clauses put it ("att hon
    inte vågar gå hem"); both forms report the same key.
    """

    NEGATIONS = frozenset({"int", "inte", "ej", "aldrig", "ing", "inga", "ingen", "inget"})

    def __init__(self, phrases: Iterable[tuple[str, ...]]):
        self.phrases: list[tuple[str, ...]] = []
        self._forms: list[tuple[str, ...]] = []  # every accepted word order
        self._key_of_form: list[int] = []
        self._by_first: dict[str, list[int]] = defaultdict(list)
        for phrase in phrases:
            key = len(self.phrases)
            self.phrases.append(phrase)  # keys follow the input order, empty phrases included
            if not phrase:
                continue
            forms = {phrase}
            for k in range(1, len(phrase)):
                if phrase[k] in self.NEGATIONS and phrase[k - 1] not in self.NEGATIONS:
                    forms.add((*phrase[: k - 1], phrase[k], phrase[k - 1], *phrase[k + 1 :]))
            for form in sorted(forms):
                self._by_first[form[0]].append(len(self._forms))
                self._forms.append(form)
                self._key_of_form.append(key)

    def find(self, analysis: Analysis) -> list[PhraseHit]:
        """Every occurrence of every phrase, parts in order with at most MAX_GAP words between."""
        hits: list[PhraseHit] = []
        alts, n = analysis.alts, len(analysis.alts)
        sentence = analysis.sentence or [0] * n
        for pos in range(n):
            # A phrase never reaches past the end of its sentence.
            stop = pos
            while stop < n and sentence[stop] == sentence[pos]:
                stop += 1
            for s in sorted(alts[pos]):  # sorted: the hits' order must not depend on Python's string hashing
                for form in self._by_first.get(s, ()):
                    end = self._match_rest(self._forms[form], alts, pos, stop)
                    if end is not None:
                        hits.append(PhraseHit(self._key_of_form[form], pos, end))
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


class Lexicon:
    """Named groups of phrases (keywords, acute signals, off-topic cues ...) found in one pass."""

    def __init__(self, groups: dict[str, list[tuple[str, ...]]]):
        phrases: list[tuple[str, ...]] = []
        self._group_of: list[tuple[str, int]] = []  # global key -> (group, key within group)
        self.groups: dict[str, list[tuple[str, ...]]] = {}
        for name, group in groups.items():
            self.groups[name] = list(group)
            for i, phrase in enumerate(group):
                phrases.append(phrase)
                self._group_of.append((name, i))
        self._set = PhraseSet(phrases)

    def find(self, analysis: Analysis) -> dict[str, list[PhraseHit]]:
        """Hits per group, each keyed by the phrase's index within its group."""
        out: dict[str, list[PhraseHit]] = {name: [] for name in self.groups}
        for hit in self._set.find(analysis):
            name, key = self._group_of[hit.key]
            out[name].append(PhraseHit(key, hit.start, hit.end))
        return out


class Matcher:
    """Turns messages into `Analysis` objects using the knowledge base's vocabulary.

    Stems keep å/ä/ö so that "gånger" never matches "gäng". A word typed
    without them ("mar daligt", "ganger") is ambiguous, so it gets every known
    stem it could be ("mår"/"mar", "gång"/"gäng"); typo correction and compound
    splitting compare folded forms for the same reason.
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        glossary: dict[tuple[str, ...], tuple[str, ...]],
        places: dict[tuple[str, ...], str],
        municipality_names: dict[str, str],
        abbreviations: Iterable[str] = (),
    ):
        """Builds the lookups.

        vocabulary: lower-case words (with å/ä/ö) from every text of the knowledge base.
        glossary: folded term words -> stems it expands to.
        places: folded name/alias/locality words -> municipality id.
        municipality_names: folded single-word municipality name -> id (for typo matching).
        abbreviations: short folded words (bup, soc, eht) allowed as the first part of a compound.
        """
        self.words = frozenset(vocabulary)
        self.stems = frozenset(stem(w) for w in self.words)
        # Folded word -> the stems of the words it may stand for ("mar" -> mår),
        # and, for words not in the vocabulary, folded stem -> stems ("ganger" -> gång, gäng).
        self._unfold_word: dict[str, set[str]] = defaultdict(set)
        self._unfold: dict[str, set[str]] = defaultdict(set)
        for w in self.words:
            st = stem(w)
            self._unfold_word[fold(w)].add(st)
            for key in (fold(st), stem(fold(w))):
                self._unfold[key].add(st)
        self._folded_stems = frozenset(fold(st) for st in self.stems)
        # Typo candidates by first letter: a typo in the first letter is rare, and
        # searching one bucket instead of the whole vocabulary keeps routing fast.
        self._word_buckets: dict[str, list[str]] = defaultdict(list)
        for w in sorted({fold(w) for w in self.words if len(w) >= 4 and not w.isdigit()}):
            self._word_buckets[w[0]].append(w)
        self.glossary = glossary
        self._glossary_max = max((len(k) for k in glossary), default=1)
        self.places = places
        self._places_max = max((len(k) for k in places), default=1)
        self._place_first = frozenset(k[0] for k in places) | frozenset(k[0] + "s" for k in places if len(k) == 1)
        self.municipality_names = municipality_names
        self._municipality_list = [n for n in municipality_names if len(n) >= 6]
        self.abbreviations = frozenset(abbreviations)
        self._glossary_first = frozenset(k[0] for k in glossary)
        self._folded_words = frozenset(fold(w) for w in self.words)
        self._expand = lru_cache(maxsize=32768)(self._expand_word)
        self._abbreviation_compound = lru_cache(maxsize=32768)(self._abbreviation_compound_of)

    # -- words ---------------------------------------------------------------

    def _known_folded(self, folded: str) -> set[str]:
        """Stems that a folded word may stand for: by whole word first ("vad" is "vad", not "väder")."""
        if folded in self._unfold_word:
            return self._unfold_word[folded]
        return self._unfold.get(folded, set()) | self._unfold.get(stem(folded), set())

    def _expand_word(self, word: str) -> frozenset[str]:
        """Candidate stems for one word: itself, compound parts, or a typo correction."""
        s = stem(word)
        if word.isdigit():
            return frozenset({s})
        out = {s}
        folded = fold(word)
        if folded == word:
            # Typed without å/ä/ö: it may stand for any known stem that folds the same.
            out |= self._known_folded(folded)
        elif s not in self.stems:
            out |= self._known_folded(folded)
        if s in self.stems or word in self.words or len(out) > 1:
            return frozenset(out)
        # A near-identical known word is a typo ("famljebehandlare"); otherwise
        # try the parts of a compound, and last a looser typo correction.
        fixed = self._correct(folded, strict=True) if len(folded) >= 6 else None
        if fixed is None:
            parts = self._split_compound(folded)
            if parts:
                return frozenset(out | parts)
            fixed = self._correct(folded) if len(folded) >= 5 else None
        if fixed:
            out |= self._known_folded(fixed)
            out |= self._split_compound(fixed)
        return frozenset(out)

    def _split_compound(self, folded: str) -> set[str]:
        """Known first and last parts of a compound ("sjalvskadebeteende" → självskad, beteend).

        A word that starts with a particle ("över", "samman") is a derived word,
        not a compound: "överväldigad" holds no "våld", "sammanbrott" no "brott".
        """
        parts: set[str] = set()
        # Longest known prefix; what follows may start with a linking s or e.
        for cut in range(len(folded) - 1, MIN_PREFIX - 1, -1):
            head = folded[:cut]
            if head in PARTICLES:
                break
            if head in self._folded_words or head in self._folded_stems:
                parts |= self._known_folded(head)
                rest = folded[cut:]
                for tail in (rest, rest[1:] if rest[:1] in "se" else ""):
                    if len(tail) >= 3 and (tail in self._folded_words or stem(tail) in self._folded_stems):
                        parts |= self._last_part(tail)
                        break
                break
        else:
            for n in range(1, 5):  # abbreviations are at most four letters
                abbr, tail = folded[:n], folded[n:]
                if abbr in self.abbreviations and len(tail) >= 4 and (tail in self._folded_words or stem(tail) in self._folded_stems):
                    parts |= self._known_folded(abbr) | {abbr} | self._known_folded(tail)
        # Longest known last word (the head of a Swedish compound carries the meaning),
        # possibly inflected ("…problematiken"): string checks only, no stemming per cut.
        for cut in range(2, len(folded) - MIN_SUFFIX + 1):
            head, tail = folded[:cut], folded[cut:]
            if head in PARTICLES or (head[-1] == "s" and head[:-1] in PARTICLES):
                continue
            if tail in self._folded_words or any(
                tail.endswith(end) and tail[: len(tail) - len(end)] in self._folded_stems for end in INFLECTIONS
            ):
                parts |= self._last_part(tail)
                break
        return parts

    def _last_part(self, folded: str) -> set[str]:
        """The known stems of a compound's last part, except short ones: a short stem is a function
        word or an ending ("inga" → "ing"), never the head of a compound ("tvillingarna", "pressing")."""
        return {p for p in self._known_folded(folded) if len(p) >= MIN_SUFFIX}

    def _correct(self, folded: str, strict: bool = False) -> str | None:
        """The closest known (folded) word for a misspelled one: one edit per five letters, strict per eight."""
        cutoff = 0.875 if strict else 0.8 if len(folded) < 9 else 0.78
        best = process.extractOne(
            folded, self._word_buckets.get(folded[0], ()), scorer=Levenshtein.normalized_similarity, score_cutoff=cutoff
        )
        return best[0] if best else None

    # -- places --------------------------------------------------------------

    def _place_at(self, folded: list[str], i: int) -> tuple[str, int] | None:
        """The municipality named at position i and how many words the name takes."""
        first = folded[i]
        for n in range(min(self._places_max, len(folded) - i) if first in self._place_first else 0, 0, -1):
            key = tuple(folded[i : i + n])
            if BREAK in key:
                continue
            if key in self.places:
                return self.places[key], n
            if key[-1].endswith("s") and len(key[-1]) > 3:
                genitive = (*key[:-1], key[-1][:-1])
                if genitive in self.places:
                    return self.places[genitive], n
        word = folded[i]
        # A school named after its place: "Frösängsskolan", "Malmköpingsskolan".
        for suffix in SCHOOL_SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix) + 3:
                head = word[: -len(suffix)]
                for place in (head, head[:-1] if head.endswith("s") else None):
                    if place and (place,) in self.places:
                        return self.places[(place,)], 1
        if len(word) >= 6 and word not in self._folded_words and self._municipality_list:
            best = process.extractOne(
                word, self._municipality_list, scorer=OSA.normalized_similarity, score_cutoff=0.8
            )
            if best:
                return self.municipality_names[best[0]], 1
        return None

    # -- whole messages ------------------------------------------------------

    def analyse(self, text: str) -> Analysis:
        """Breaks a message into positions with candidate stems, clauses and named places."""
        raw: list[str] = []
        sentence: list[int] = []
        for number, part in enumerate(sentences(text)):
            part_words = words(part)
            if raw and part_words:
                raw.append(BREAK)
                sentence.append(number)
            raw += part_words
            sentence += [number] * len(part_words)
        folded = [fold(w) for w in raw]
        alts: list[set[str]] = []
        clause: list[int] = []
        current = 0
        for w in raw:
            if w == BREAK:
                current += 1
                alts.append(set())
            else:
                alts.append(set(self._expand(w)))
            clause.append(current)
        analysis = Analysis(folded, alts, clause, sentence)
        i = 0
        while i < len(folded):
            found = self._place_at(folded, i) if folded[i] != BREAK else None
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
        folded = analysis.words
        for i, w in enumerate(folded):
            if w in self._glossary_first:
                for n in range(min(self._glossary_max, len(folded) - i), 0, -1):
                    expansion = self.glossary.get(tuple(folded[i : i + n]))
                    if expansion:
                        analysis.alts[i].update(expansion)
                        break
                else:
                    continue
                continue
            compound = self._abbreviation_compound(w)
            if compound:
                analysis.alts[i].update(compound)

    def _abbreviation_compound_of(self, w: str) -> tuple[str, ...]:
        """The glossary expansion of an abbreviation that starts a compound ("bupkontakt" → BUP)."""
        for n in (3, 4):
            abbr, tail = w[:n], w[n:]
            if (
                len(tail) >= 3
                and abbr in self.abbreviations
                and (abbr,) in self.glossary
                and (tail in self._folded_words or stem(tail) in self._folded_stems)
            ):
                return self.glossary[(abbr,)]
        return ()
