"""The router: from a message to an `Answer` — which topic, which municipality, how acute.

Pure and synchronous: it knows nothing of Telegram or SQLite, and the same
text, municipality and time always give the same answer. Build one `Router`
per knowledge base.

How a message is decided:
1. `bot.core.matching` breaks it into word positions with candidate stems (typos,
   compounds, abbreviations), clauses and sentences, and finds the
   municipalities and localities named in it (a place in the text wins over
   the user's profile).
2. `bot.core.lexical` scores every topic by its words; `bot.core.semantic` encodes the
   message with a multilingual sentence encoder and compares it with every
   topic's example phrasings, the off-topic examples and the risk exemplars.
   The two are fused: words lead, meaning adds to them, and meaning decides
   when the words are too weak to (paraphrases, described behaviour,
   unaccented text, English). Without the encoder the router works on words.
3. Risk (`bot.core.risk`): an acute concept ("skär sig", blood … arm, a child
   saying someone comes into her room at night) that is not negated, past,
   assessed as low, grief or a general question in its sentence makes the
   answer acute; a weakened one, or a message that reads like the acute
   exemplars, makes it possible.
4. Too little evidence declines (greetings and thanks get a friendly reply);
   a short worried message with nothing to go on asks what it is about.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bot.config import Settings
from bot.core.acuteness import Finding, RiskReader
from bot.core.answer import Answer, Kind, Risk, TopicScore
from bot.core.contacts import ContactPicker
from bot.core.encoder import Encoder, shared_encoder
from bot.core.lexical import LexicalScorer
from bot.core.matching import Analysis, Lexicon, Matcher, PhraseHit, phrase_stems
from bot.core.semantic import SemanticIndex
from bot.core.thresholds import (
    CLARIFY_CHOICES,
    GREETING_WORDS,
    LONG_SENTENCES,
    MAX_SENTENCES,
    MAX_TOPICS,
    VAGUE_WORDS,
    Thresholds,
)
from bot.core.vectors import EmbeddingCache, semantic_texts, shipped_vectors
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.privacy import keep_for
from bot.text import names
from bot.text.identifiers import Redaction, kinds_in, placeholders_to_space, redact
from bot.text.normalize import BREAK, fold, is_english, sentences, tokens, words

MAX_INPUT_CHARS = 2000  # the longest text Lotsen stores for a question or consultation
READ_CHARS = 4096  # routing reads a whole Telegram message


CLARIFY_MUNICIPALITY = "Vilken kommun gäller det? Skriv kommunens namn (eller välj med /kommun), så visar jag rätt kontaktperson."
CLARIFY_TOPICS = "Gäller det främst {a} eller {b}? Välj det som passar bäst, så blir svaret mer träffsäkert."
CLARIFY_VAGUE = "Berätta lite mer, så hittar jag rätt väg: vad är det du är orolig för? Välj det som ligger närmast, eller skriv med egna ord vad du har sett eller hört."

_FILLER = frozenset(fold(w) for w in ("så", "mycket", "snälla", "och", "du", "ni", "alla", "på", "er", "dig", "lotsen", "igen", "hälsningar", "mvh", "bra", "toppen", "super", "vänligen", "allihop"))
# Words of a worried but empty message ("jag är orolig för en elev", "hjälp!").
_WORRY = frozenset({"orolig", "oro", "oroar", "oroad", "bekymrad", "bekymmer", "hjälp", "hjalp", "worried", "help", "concerned"})
# Words that say nothing about what the worry is (folded).
_EMPTY = frozenset(fold(w) for w in (
    "jag", "är", "för", "en", "ett", "av", "min", "mina", "vår", "våra", "elev", "elever", "eleven", "barn",
    "barnet", "om", "det", "i", "klassen", "klass", "vi", "har", "lite", "väldigt", "så", "mycket", "kan", "du",
    "någon", "nån", "behöver", "hej", "the", "a", "am", "about", "student", "pupil", "child", "my", "we", "are",
    "one", "of", "need", "can", "you", "me", "please", "snälla",
))


class Router:
    """Routes messages for one knowledge base; see the module docstring for how."""

    def __init__(self, kb: KnowledgeBase, *, encoder: Encoder | None = None, cache: EmbeddingCache | None = None,
                 thresholds: Thresholds | None = None):
        """Builds the indexes; with an `encoder` also the semantic index (its vectors cached in `cache`)."""
        self.kb = kb
        self.t = thresholds or Thresholds()
        self.picker = ContactPicker(kb)
        self.matcher = self._build_matcher()
        self._negations = frozenset(s for n in kb.urgency.negations for s in phrase_stems(n))
        self.lexical = LexicalScorer(kb, self._negations)
        self._build_small_talk()
        self._lexicon = self._build_lexicon()
        self.semantic = self._build_semantic(encoder, cache) if encoder is not None else None
        self.risk = RiskReader(kb, self.matcher, self.semantic, self.t)
        self.keep = keep_for(kb)
        names.load()

    def redact(self, text: str) -> Redaction:
        """The text with every direct identifier removed, as Lotsen stores it (`bot.text.identifiers`)."""
        return redact(text, self.keep)

    @classmethod
    def for_settings(cls, kb: KnowledgeBase, settings: Settings) -> Router:
        """The router as configured: with the shared sentence encoder unless LOTSEN_ENCODER=av."""
        if not settings.encoder:
            return cls(kb)
        return cls(kb, encoder=shared_encoder(), cache=EmbeddingCache(settings.cache_dir))

    # -- builders ------------------------------------------------------------

    def _vocabulary(self) -> set[str]:
        """Every word the knowledge base uses (for typo correction and compounds)."""
        kb = self.kb
        texts: list[str] = []
        for t in kb.topics.values():
            texts += [t.name, *t.keywords, *t.related, *t.phrasings]
        for m in kb.materials.values():
            texts += [m.title, *m.keywords]
        for g in kb.glossary.terms:
            texts += [g.term, g.means]
        texts += [*kb.smalltalk.greetings, *kb.smalltalk.thanks, *kb.smalltalk.offtopic]
        u = kb.urgency
        for c in u.concepts:
            texts += [*c.phrases, *(w for pair in c.pairs for side in pair for w in side)]
        texts += [*u.negations, *u.past, *u.assessed, *u.bereavement, *u.general_markers, *u.immediacy,
                  *u.ongoing, *u.telling]
        return {w for text in texts for w in words(text) if w != BREAK}

    def _build_matcher(self) -> Matcher:
        glossary: dict[tuple[str, ...], tuple[str, ...]] = {}
        for g in self.kb.glossary.terms:
            key = tuple(w for w in tokens(g.term) if w != BREAK)
            if key:
                glossary[key] = tuple(dict.fromkeys(phrase_stems(g.means)))
        abbreviations = {k[0] for k in glossary if len(k) == 1 and len(k[0]) <= 4}
        places: dict[tuple[str, ...], str] = {}
        names: dict[str, str] = {}
        name_words: set[str] = set()
        for m in self.kb.municipalities.values():
            for label in (m.id, m.name, *m.aliases, *m.localities):
                key = tuple(w for w in tokens(label) if w != BREAK)
                if key:
                    places[key] = m.id
            for w in (m.id, *[w for w in tokens(m.name) if w != BREAK]):
                names[w] = m.id
            name_words.update(w for w in words(m.name) if w != BREAK)
        return Matcher(self._vocabulary() - name_words - set(names), glossary, places, names, abbreviations)

    def _build_small_talk(self) -> None:
        st = self.kb.smalltalk
        self._greeting_words = frozenset(w for g in st.greetings for w in tokens(g) if w != BREAK)
        self._thanks_words = frozenset(w for g in st.thanks for w in tokens(g) if w != BREAK)
        self._child_words = frozenset(fold(w) for w in st.child_words)

    def _build_lexicon(self) -> Lexicon:
        """Every phrase the router itself looks for, found in one pass over the message."""
        material_phrases: list[tuple[str, ...]] = []
        self._material_of: list[str] = []
        for m in self.kb.materials.values():
            for kw in m.keywords:
                material_phrases.append(phrase_stems(kw))
                self._material_of.append(m.id)
        return Lexicon(
            {
                "keywords": self.lexical.keyword_phrases,
                "offtopic": [phrase_stems(o) for o in self.kb.smalltalk.offtopic],
                "own": [phrase_stems(o) for o in self.kb.smalltalk.own_matter],
                "materials": material_phrases,
            }
        )

    def _build_semantic(self, encoder: Encoder, cache: EmbeddingCache | None) -> SemanticIndex | None:
        kb = self.kb
        topics, offtopic, acute, calm = semantic_texts(kb)
        return SemanticIndex.build(
            encoder, cache or EmbeddingCache(None), topics, offtopic, acute, calm,
            calm_topics=[t.id for t in kb.topics.values() if not t.urgent],
            topic_dangers={t.id: t.emergency for t in kb.topics.values() if t.emergency},
            shipped=shipped_vectors(kb.source),
        )

    # -- routing ---------------------------------------------------------------

    def route(
        self, text: str, municipality: str | None = None, now: datetime | None = None, topic: str | None = None
    ) -> Answer:
        """Decides what to answer to `text` from a user whose profile says `municipality`.

        `topic` forces the first topic: the user picked it after a clarifying question.
        """
        now = now or datetime.now(UTC)
        # Read what is stored: identifiers removed (the adapter did it already; this does no harm), and
        # each placeholder read as no word at all. What the adapter removed counts as removed here too.
        redacted = self.redact(text)
        removed = redacted.kinds | kinds_in(text)
        text = placeholders_to_space(redacted.text)
        notes: tuple[str, ...] = ()
        if len(text) > READ_CHARS:
            text = text[:READ_CHARS]
            notes = ("Meddelandet var långt, så jag har läst de första 4 000 tecknen.",)
        analysis = self.matcher.analyse(text)
        named = [m for m, _ in analysis.municipalities]
        place = named[0] if named else None
        chosen = place or (municipality if municipality in self.kb.municipalities else None)
        content = [w for w in analysis.words if w != BREAK]
        base: dict[str, Any] = dict(
            municipality=chosen, municipality_from_text=place is not None, office_hours=self.picker.is_office_hours(now),
            personnummer="personnummer" in removed, removed=removed, notes=notes,
            language="en" if is_english(content) else "sv",
        )
        if not content:
            return Answer(kind=Kind.EMPTY, urgent=False, **base)
        return self._decide(text, analysis, content, topic, base)

    def _decide(self, text: str, analysis: Analysis, content: list[str], topic: str | None, base: dict[str, Any]) -> Answer:
        """The answer for a message with content: its evidence weighed, its risk read, declined or answered."""
        hits = self._lexicon.find(analysis)
        parts = sentence_parts(text)
        vectors = self.semantic.encode([text, *parts]) if self.semantic is not None else None
        lexical = self.lexical.score(analysis, hits["keywords"])
        semantic = self.semantic.topic_similarity(vectors[0]) if vectors is not None and self.semantic else {}
        modelled = self.semantic.topic_scores(vectors[0]) if vectors is not None and self.semantic else {}
        scores = self._fuse(lexical, semantic, modelled)
        about_child = self._about_a_child(content)
        risk = self.risk.read(analysis, lexical, vectors, semantic, parts, about_child=about_child)
        forced = topic if topic in self.kb.topics else None
        own_matter = bool(hits["own"]) and not about_child  # the writer's own health, leave or work
        if not forced and risk.level is Risk.NONE and self._vague_worry(content):
            return self._clarify_vague(semantic, base)
        if risk.level is Risk.ACUTE and risk.topic and not forced:
            risk = self.risk.acute_topic(scores, risk)
            scores[risk.topic or ""] = max(scores.values(), default=0.0) + self.t.signal_boost
        elif not forced:
            forced = self._same_as_phrasing(vectors)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if forced:
            best = max(ranked[0][1] if ranked else 0.0, self.t.decline_below)
            ranked = [(forced, best), *[(tid, sc) for tid, sc in ranked if tid != forced]]
        elif risk.level is not Risk.ACUTE and self._declines(
            lexical, hits, semantic, vectors, about_child=about_child, own_matter=own_matter,
            english=base["language"] == "en",
        ):
            return self._not_answered(content, risk, base, own_matter=own_matter)
        return self._answer(ranked, hits, risk, forced, base)

    def _answer(self, ranked: list[tuple[str, float]], hits: dict[str, list[PhraseHit]], risk: Finding,
                forced: str | None, base: dict[str, Any]) -> Answer:
        """The answer for the leading topics, with contacts, material and clarifying questions."""
        best = ranked[0][1]
        kept = [ranked[0], *[(tid, s) for tid, s in ranked[1:] if s >= max(self.t.decline_below, self.t.keep_ratio * best)]]
        kept = kept[:MAX_TOPICS]
        topics = tuple(TopicScore(self.kb.topics[tid], _confidence(s)) for tid, s in kept)
        clarify_parts: list[str] = []
        clarify_topics: tuple[str, ...] = ()
        if len(kept) > 1 and kept[1][1] >= self.t.tie_ratio * kept[0][1] and not (risk.level is Risk.ACUTE or forced):
            clarify_topics = (kept[0][0], kept[1][0])
            a, b = (self.kb.topics[t].name.lower() for t in clarify_topics)
            clarify_parts.append(CLARIFY_TOPICS.format(a=a, b=b))
        chosen = base["municipality"]
        if chosen is None:
            clarify_parts.append(CLARIFY_MUNICIPALITY)
        emergency = self.picker.emergency(risk.danger, chosen, base["office_hours"]) if risk.level is not Risk.NONE else ()
        contacts = self.picker.contacts(topics[0].topic.roles, chosen, skip={c.contact.id for c in emergency})
        return Answer(
            kind=Kind.ANSWER, urgent=risk.level is Risk.ACUTE, risk=risk.level, danger=risk.danger,
            topics=topics, contacts=contacts, emergency=emergency,
            materials=self.picker.materials(hits["materials"], self._material_of, [t.topic for t in topics]),
            clarify=" ".join(clarify_parts) or None, clarify_topics=clarify_topics,
            clarify_municipality=chosen is None, **base,
        )

    def _clarify_vague(self, semantic: dict[str, float], base: dict[str, Any]) -> Answer:
        """A clarifying question with the likeliest topics as choices."""
        choices = [t for t in _DEFAULT_CHOICES if t in self.kb.topics]
        choices += [t for t in sorted(semantic, key=lambda t: -semantic[t]) if t not in choices]
        return Answer(kind=Kind.CLARIFY, urgent=False, clarify=CLARIFY_VAGUE,
                      clarify_topics=tuple(choices[:CLARIFY_CHOICES]), **base)

    def _not_answered(self, content: list[str], risk: Finding, base: dict[str, Any], *, own_matter: bool) -> Answer:
        """A greeting, thanks or a decline (`own_matter`: one about the writer's own health, leave or work)."""
        kind = self._small_talk_kind(content)
        return Answer(kind=kind, urgent=False, risk=risk.level if risk.level is Risk.POSSIBLE else Risk.NONE,
                      danger=risk.danger if risk.level is Risk.POSSIBLE else None,
                      own_matter=own_matter and kind is Kind.DECLINED, **base)

    # -- evidence ------------------------------------------------------------

    def _same_as_phrasing(self, vectors: np.ndarray | None) -> str | None:
        """The topic whose example phrasing says the same as the message (a curator's fix always holds)."""
        if vectors is None or self.semantic is None:
            return None
        topic, sim = self.semantic.nearest_phrasing(vectors[0])
        return topic if sim >= self.t.sem_same else None

    def _fuse(self, lexical: dict[str, float], semantic: dict[str, float],
              modelled: dict[str, float]) -> dict[str, float]:
        """Word scores plus shares for the topics nearest in meaning: by phrasings, and by the topic model."""
        scores: dict[str, float] = defaultdict(float, lexical)
        for near, weight, window in ((semantic, self.t.sem_weight, self.t.sem_window), (modelled, self.t.model_weight, self.t.model_window)):
            top = max(near.values(), default=0.0)
            for tid, value in near.items():
                share = (value - (top - window)) / window
                if share > 0:
                    scores[tid] += weight * share
        return dict(scores)

    def _declines(self, lexical: dict[str, float], hits: dict[str, list[PhraseHit]],
                  semantic: dict[str, float], vectors: np.ndarray | None, *, about_child: bool = True,
                  own_matter: bool = False, english: bool = False) -> bool:
        """True when the evidence is too weak, or the message is off-topic, to answer.

        Meaning decides first when it is clear: near a topic's phrasings (and nearer
        them than any off-topic example) answers; nearer the off-topic examples
        declines unless the words are strong. A message that names no child and speaks
        of the writer's own matter (`own_matter` in knowledge/smalltalk.yaml) declines.
        One that names no child (a general question, or the writer's own day) and is
        not clearly nearer a topic than the off-topic examples (self.t.sem_off_no_child)
        needs one strong keyword. Otherwise the words decide. An English message is
        compared with mostly Swedish wordings, so its cosines run lower: it answers on
        meaning from self.t.sem_accept_en and self.t.sem_off_margin_en (its words rarely help).
        """
        strong = self.lexical.strongest_keyword(hits["keywords"]) >= self.t.offtopic_needs
        if own_matter:
            return True  # not a child's welfare
        best = max(lexical.values(), default=0.0)
        if semantic and vectors is not None and self.semantic is not None:
            top = max(semantic.values())
            margin = top - self.semantic.offtopic_similarity(vectors[0])
            accept, needed = (self.t.sem_accept_en, self.t.sem_off_margin_en) if english else (self.t.sem_accept, self.t.sem_off_margin)
            needed = needed if about_child else max(needed, self.t.sem_off_no_child)
            if top >= accept and margin >= needed:
                return False
            if margin < self.t.sem_off_below or top < self.t.sem_far:
                return best < self.t.words_override
            if margin < needed:  # names no child and reads much like the off-topic examples
                return best < self.t.words_override and not strong
        if hits["offtopic"] and not strong:
            return True
        return best < self.t.decline_below


    def _small_talk_kind(self, content: list[str]) -> Kind:
        """Thanks, a greeting (also "hej, vad kan du?") or a plain decline."""
        rest = [w for w in content if w not in _FILLER]
        if rest and all(w in self._thanks_words or w in self._greeting_words for w in rest):
            return Kind.THANKS if any(w in self._thanks_words for w in rest) else Kind.GREETING
        if rest and rest[0] in self._greeting_words and len(rest) <= GREETING_WORDS:
            return Kind.GREETING  # the greeting reply says what Lotsen can help with
        return Kind.DECLINED

    def _about_a_child(self, content: list[str]) -> bool:
        """True when the message names a child: a child word, or a class or age ("8:an", "15-åring")."""
        if any(w in self._child_words for w in content):
            return True
        return any(a.isdigit() and b in ("an", "aring", "ar") for a, b in zip(content, content[1:], strict=False))

    @staticmethod
    def _vague_worry(content: list[str]) -> bool:
        """A short message that says someone is worried or needs help, and nothing about what."""
        return (
            len(content) <= VAGUE_WORDS
            and any(w in _WORRY for w in content)
            and all(w in _WORRY or w in _EMPTY for w in content)
        )

    # -- contacts and materials ----------------------------------------------


def sentence_parts(text: str) -> list[str]:
    """The sentences of a long message that are also encoded on their own (none below LONG_SENTENCES).

    In a long message the acute part may come late, and the whole message's vector
    alone would dilute it.
    """
    parts = [s for s in sentences(text) if len(s.split()) >= 3][:MAX_SENTENCES]
    return parts if len(parts) >= LONG_SENTENCES else []


# What a vague worry is most often about: offered first when Lotsen asks.
_DEFAULT_CHOICES = ("psykisk-ohalsa", "oro-hemmet", "skolfranvaro", "npf", "kamrater-ensamhet")


def _confidence(raw: float) -> float:
    """Maps a raw score to 0..1: one strong keyword ≈ 0.6, two ≈ 0.85."""
    return 1.0 - math.exp(-raw / 3.3)
