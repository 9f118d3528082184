"""Lexical topic scores: keywords, TF-IDF over example phrasings, character n-grams.

`LexicalScorer` is built once per knowledge base; `score` gives every topic a
raw score for one analysed message:

- each topic collects the weight of its keywords found in the text — strong
  keywords 3, related words 1, multi-word keywords ×1.4, a keyword shared by
  several topics divided by the square root of their number; each word counts
  once per topic ("BUP-kontakt" is one cue, not "BUP" plus "kontakt"); keywords
  of urgent topics do not count inside a negated clause;
- plus a TF-IDF similarity to the topic's example phrasings;
- plus, for the leading candidates, a character n-gram similarity that is
  robust to inflection, compounds and typos the word matching misses.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from bot.core.matching import Analysis, PhraseHit, phrase_stems
from bot.knowledge.base import KnowledgeBase
from bot.text.normalize import BREAK, tokens

STRONG = 3.0  # weight of a strong keyword
RELATED = 1.0  # weight of a related word
PHRASE_BONUS = 1.4  # multi-word keywords are more specific than single words
SIMILARITY = 4.0  # weight of the TF-IDF similarity to a topic's phrasings
CHAR_SIMILARITY = 6.0  # weight of the character n-gram similarity
CHAR_CANDIDATES = 6  # topics (best by words) that the n-gram similarity is computed for


@dataclass(frozen=True)
class Keyword:
    """One topic's claim on a keyword phrase."""

    topic: str
    weight: float  # divided among the topics that share the keyword
    own_weight: float  # as written: 3 strong, 1 related (x1.4 for a phrase)
    urgent_topic: bool


class LexicalScorer:
    """Scores topics by the words of a message; see the module docstring."""

    def __init__(self, kb: KnowledgeBase, negations: frozenset[str]) -> None:
        self._negations = negations
        self.keyword_phrases, self.keywords = _build_keywords(kb)
        self._idf, self._postings = _build_phrasing_index(kb)
        self._gram_idf, self._gram_vectors = _build_char_grams(kb)
        self._known_grams = lru_cache(maxsize=65536)(self._known_grams_of)
        self._gram_norm2 = lru_cache(maxsize=65536)(self._gram_norm2_of)
        self._gram_dot = lru_cache(maxsize=262144)(self._gram_dot_of)

    def score(self, analysis: Analysis, keyword_hits: list[PhraseHit]) -> dict[str, float]:
        """Keyword weights plus phrasing similarities per topic (raw, unbounded)."""
        scores = self._keyword_scores(analysis, keyword_hits)
        for tid, sim in self._tfidf(analysis).items():
            scores[tid] += SIMILARITY * sim
        self._add_char_similarity(analysis, scores)
        return dict(scores)

    def strongest_keyword(self, keyword_hits: list[PhraseHit]) -> float:
        """The unshared weight of the strongest keyword found (3 for a strong keyword)."""
        return max((kw.own_weight for h in keyword_hits for kw in self.keywords[h.key]), default=0.0)

    def _keyword_scores(self, analysis: Analysis, keyword_hits: list[PhraseHit]) -> defaultdict[str, float]:
        scores: defaultdict[str, float] = defaultdict(float)
        candidates: list[tuple[float, str, PhraseHit]] = []
        negated: dict[int, bool] = {}
        for hit in keyword_hits:
            for kw in self.keywords[hit.key]:
                if kw.urgent_topic:
                    if hit.start not in negated:
                        negated[hit.start] = self._negated(analysis, hit.start)
                    if negated[hit.start]:
                        continue
                candidates.append((kw.weight, kw.topic, hit))
        covered: dict[str, set[int]] = defaultdict(set)
        for weight, topic, hit in sorted(candidates, key=lambda c: (-c[0], c[2].start)):
            span = set(range(hit.start, hit.end + 1))
            if span <= covered[topic]:
                continue
            covered[topic] |= span
            scores[topic] += weight
        return scores

    def _negated(self, analysis: Analysis, start: int) -> bool:
        """True when a negation word stands earlier in the same clause."""
        clause = analysis.clause[start]
        p = start - 1
        while p >= 0 and analysis.clause[p] == clause:
            if analysis.alts[p] & self._negations:
                return True
            p -= 1
        return False

    def _tfidf(self, analysis: Analysis) -> dict[str, float]:
        terms = sorted({s for alts in analysis.alts for s in alts if s in self._idf})  # a fixed order of summing
        sims: dict[str, float] = defaultdict(float)
        if not terms:
            return sims
        qnorm = math.sqrt(sum(self._idf[t] ** 2 for t in terms))
        for term in terms:
            w = self._idf[term] / qnorm
            for tid, v in self._postings[term]:
                sims[tid] += w * v
        return sims

    def _add_char_similarity(self, analysis: Analysis, scores: defaultdict[str, float]) -> None:
        """Character n-gram similarity for the leading candidates only (cost independent of topic count).

        The message vector is the sum of its distinct words' vectors, so each
        word's share is computed once and cached.
        """
        words = sorted({w for w, a in zip(analysis.words, analysis.alts, strict=True) if a and len(w) >= 3})
        norm2 = sum(self._gram_norm2(w) for w in words)
        if norm2 <= 0:
            return
        qnorm = math.sqrt(norm2)
        for tid in heapq.nlargest(CHAR_CANDIDATES, scores, key=scores.__getitem__):
            dot = sum(self._gram_dot(w, tid) for w in words)
            scores[tid] += CHAR_SIMILARITY * dot / qnorm

    def _known_grams_of(self, word: str) -> tuple[tuple[str, float], ...]:
        """A word's character n-grams that occur in the knowledge base, with their IDF."""
        return tuple((g, self._gram_idf[g]) for g in char_grams([word]) if g in self._gram_idf)

    def _gram_norm2_of(self, word: str) -> float:
        return sum(idf * idf for _, idf in self._known_grams(word))

    def _gram_dot_of(self, word: str, topic: str) -> float:
        vec = self._gram_vectors.get(topic, {})
        return sum(idf * vec.get(g, 0.0) for g, idf in self._known_grams(word))


def _build_keywords(kb: KnowledgeBase) -> tuple[list[tuple[str, ...]], list[list[Keyword]]]:
    """Keyword phrases (as stems) and, per phrase, each topic's weight; shared weight divided by sqrt(#topics)."""
    owners: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for t in kb.topics.values():
        for cues, weight in ((t.keywords, STRONG), (t.related, RELATED)):
            for kw in cues:
                ps = phrase_stems(kw)
                if ps:
                    w = weight * (PHRASE_BONUS if len(ps) > 1 else 1.0)
                    owners[ps][t.id] = max(owners[ps].get(t.id, 0.0), w)
    phrases = list(owners)
    keywords = []
    for ps in phrases:
        share = math.sqrt(len(owners[ps]))
        keywords.append([Keyword(tid, w / share, w, kb.topics[tid].urgent) for tid, w in owners[ps].items()])
    return phrases, keywords


def _build_phrasing_index(kb: KnowledgeBase) -> tuple[dict[str, float], dict[str, list[tuple[str, float]]]]:
    """TF-IDF over the example phrasings (one document each), folded into one unit vector per topic."""
    doc_freq: dict[str, int] = defaultdict(int)
    sentences: list[tuple[str, set[str]]] = []
    for t in kb.topics.values():
        for p in t.phrasings:
            terms = set(phrase_stems(p))
            sentences.append((t.id, terms))
            for term in terms:
                doc_freq[term] += 1
    n_docs = max(1, len(sentences))
    idf = {term: math.log((1 + n_docs) / (1 + df)) + 1.0 for term, df in doc_freq.items()}
    centroid: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tid, terms in sentences:
        for term in terms:
            centroid[tid][term] += idf[term]
    postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for tid, vec in centroid.items():
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        for term, v in vec.items():
            postings[term].append((tid, v / norm))
    return idf, postings


def _build_char_grams(kb: KnowledgeBase) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Character 3-5-gram IDF over topics and one unit vector per topic (phrasings and keywords)."""
    gram_df: dict[str, int] = defaultdict(int)
    topic_grams: dict[str, dict[str, float]] = {}
    for t in kb.topics.values():
        counts: dict[str, float] = defaultdict(float)
        for text in (*t.phrasings, *t.keywords, *t.related):
            for g in char_grams(tokens(text)):
                counts[g] += 1.0
        topic_grams[t.id] = counts
        for g in counts:
            gram_df[g] += 1
    n_topics = max(1, len(kb.topics))
    gram_idf = {g: math.log((1 + n_topics) / (1 + df)) + 1.0 for g, df in gram_df.items()}
    vectors: dict[str, dict[str, float]] = {}
    for tid, counts in topic_grams.items():
        vec = {g: (1.0 + math.log(c)) * gram_idf[g] for g, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors[tid] = {g: v / norm for g, v in vec.items()}
    return gram_idf, vectors


def char_grams(words: list[str]) -> set[str]:
    """Character 3-5-grams of each word padded with spaces (like scikit-learn's char_wb)."""
    out: set[str] = set()
    for w in words:
        if w == BREAK:
            continue
        padded = f" {w} "
        for n in (3, 4, 5):
            for i in range(len(padded) - n + 1):
                out.add(padded[i : i + n])
    return out
