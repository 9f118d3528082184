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
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np

from bot.config import Settings
from bot.core.answer import Answer, Danger, Kind, Risk, RoutedContact, TopicScore
from bot.core.lexical import LexicalScorer
from bot.core.matching import Analysis, Lexicon, Matcher, PhraseHit, phrase_stems
from bot.core.risk import ConceptHit, Concepts
from bot.core.semantic import EmbeddingCache, Encoder, SemanticIndex, shared_encoder, shipped_vectors
from bot.core.vectors import semantic_texts
from bot.knowledge.base import KnowledgeBase
from bot.text.normalize import BREAK, fold, is_english, sentences, tokens, words
from bot.text.personnummer import PLACEHOLDER, redact
from bot.text.personnummer import contains as has_personnummer

TZ = ZoneInfo("Europe/Stockholm")
MAX_INPUT_CHARS = 2000  # the longest text Lotsen stores for a question or consultation
READ_CHARS = 4096  # routing reads a whole Telegram message

DECLINE_BELOW = 2.2  # less fused evidence than this declines
OFFTOPIC_NEEDS = 3.0  # with an off-topic cue, at least one strong keyword is needed
NOW_NEEDS = 5.0  # lexical evidence an urgent topic needs to be acute on "now" words alone
TIE_RATIO = 0.85  # a second topic this close to the first asks to clarify
KEEP_RATIO = 0.45  # topics listed besides the first
MAX_TOPICS = 3
SIGNAL_BOOST = 1.0  # an acute topic is put this far ahead of the next
# Evidence added to the acute signal's own topic when choosing an acute message's topic:
ACUTE_TOPIC_BONUS = 3.0  # ... a signal read from meaning
CONCEPT_TOPIC_BONUS = 6.0  # ... a concept of knowledge/urgency.yaml (word families written per topic)

# Fusion of the sentence encoder with the word scores (see `_fuse`).
SEM_WEIGHT = 2.5  # score added to the topic whose phrasings are nearest in meaning
SEM_WINDOW = 0.04  # topics within this cosine of the nearest get a share of SEM_WEIGHT
MODEL_WEIGHT = 2.5  # score added to the topic the topic model (semantic.fit_classes) puts first
MODEL_WINDOW = 0.4  # topics within this much of its first get a share of MODEL_WEIGHT
SEM_SAME = 0.97  # cosine to one example phrasing that makes its topic the answer (near-identical wording)
SEM_ACCEPT = 0.885  # cosine to a topic's phrasings at which meaning alone answers
SEM_OFF_MARGIN = 0.025  # ... provided the message is this much nearer a topic than any off-topic example
SEM_ACCEPT_EN = 0.855  # SEM_ACCEPT for an English message (cross-language cosines run lower) ...
SEM_OFF_MARGIN_EN = 0.01  # ... and its SEM_OFF_MARGIN
SEM_OFF_NO_CHILD = 0.04  # ... or this much when the message names no child (see `_declines`)
SEM_OFF_BELOW = 0.0  # nearer an off-topic example than any topic: off-topic unless the words are strong
SEM_FAR = 0.86  # this far from every topic: off-topic unless the words are strong
WORDS_OVERRIDE = 4.5  # word evidence that answers even when the meaning looks off-topic
SEM_ACUTE = 0.25  # risk model score (-1 calm .. +1 acute, see semantic.fit_risk) that makes a message acute
SEM_POSSIBLE = 0.05  # risk score that makes it possibly acute
SEM_VETO = -0.6  # a risk score this calm turns an acute word signal into a possible one ...
VETO_WORDS = 8  # ... in a message of at least this many words (a short one is too little to read)
SENTENCE_DOUBT = 0.35  # one sentence alone must read this much more acute than a whole message
GREETING_WORDS = 6  # a declined message this short that opens with a greeting gets the greeting reply
LONG_SENTENCES = 3  # from this many sentences each is also encoded on its own (see `_encode`)
MAX_SENTENCES = 8
GENERAL_SENTENCES = 3  # a message this short with a general marker and nothing "now" is a general question
VAGUE_WORDS = 8  # a worried message this short, with nothing to go on, gets a clarifying question
CLARIFY_CHOICES = 5

# Emergency roles per danger; "social" is social services within office hours and
# the social on-call service (socialjour) outside them.
EMERGENCY_ROLES: dict[Danger, tuple[str, ...]] = {
    Danger.SELF_HARM: ("bup-akut", "social"),
    Danger.VIOLENCE: ("social", "polis"),
    Danger.UNSAFE_HOME: ("social", "polis"),
}

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


@dataclass(frozen=True)
class _Risk:
    level: Risk
    danger: Danger | None
    topic: str | None
    from_concept: bool = False  # the signal is a concept of urgency.yaml, not meaning alone


class Router:
    """Routes messages for one knowledge base; see the module docstring for how."""

    def __init__(self, kb: KnowledgeBase, *, encoder: Encoder | None = None, cache: EmbeddingCache | None = None):
        """Builds the indexes; with an `encoder` also the semantic index (its vectors cached in `cache`)."""
        self.kb = kb
        # Filled in per year on first look-up, which is not safe while another thread looks up:
        # the years around now are filled in here, and later look-ups hold _holidays_lock.
        this_year = datetime.now(TZ).year
        self._holidays = holidays.country_holidays("SE", years=range(this_year - 1, this_year + 3))
        self._holidays_lock = threading.Lock()
        start, end = kb.urgency.office_hours.split("-")
        self._office = (time.fromisoformat(start), time.fromisoformat(end))
        self.matcher = self._build_matcher()
        self.concepts = Concepts(kb.urgency)
        self._negations = frozenset(s for n in kb.urgency.negations for s in phrase_stems(n))
        self.lexical = LexicalScorer(kb, self._negations)
        self._build_small_talk()
        self._lexicon = self._build_lexicon()
        self.semantic = self._build_semantic(encoder, cache) if encoder is not None else None

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
        # Text already redacted by an adapter (re-routing a logged question) still counts as carrying one.
        found_pnr = PLACEHOLDER in text or has_personnummer(text)
        if found_pnr:
            text = redact(text).replace(PLACEHOLDER, " ")
        notes: tuple[str, ...] = ()
        if len(text) > READ_CHARS:
            text = text[:READ_CHARS]
            notes = ("Meddelandet var långt, så jag har läst de första 4 000 tecknen.",)
        office = self.is_office_hours(now)
        analysis = self.matcher.analyse(text)
        named = [m for m, _ in analysis.municipalities]
        place = named[0] if named else None
        chosen = place or (municipality if municipality in self.kb.municipalities else None)
        content = [w for w in analysis.words if w != BREAK]
        base: dict[str, Any] = dict(
            municipality=chosen, municipality_from_text=place is not None, office_hours=office,
            personnummer=found_pnr, notes=notes, language="en" if is_english(content) else "sv",
        )
        if not content:
            return Answer(kind=Kind.EMPTY, urgent=False, **base)

        hits = self._lexicon.find(analysis)
        vectors = self._encode(text)
        lexical = self.lexical.score(analysis, hits["keywords"])
        semantic = self.semantic.topic_similarity(vectors[0]) if vectors is not None and self.semantic else {}
        modelled = self.semantic.topic_scores(vectors[0]) if vectors is not None and self.semantic else {}
        scores = self._fuse(lexical, semantic, modelled)
        risk = self._risk(text, analysis, lexical, vectors, semantic)
        forced = topic if topic in self.kb.topics else None
        about_child = self._about_a_child(content)
        own_matter = bool(hits["own"]) and not about_child  # the writer's own health, leave or work
        if not forced and risk.level is Risk.NONE and self._vague_worry(content):
            return self._clarify_vague(semantic, base)
        if risk.level is Risk.ACUTE and risk.topic and not forced:
            risk = self._acute_topic(scores, risk)
            scores[risk.topic or ""] = max(scores.values(), default=0.0) + SIGNAL_BOOST
        elif not forced:
            forced = self._same_as_phrasing(vectors)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if forced:
            best = max(ranked[0][1] if ranked else 0.0, DECLINE_BELOW)
            ranked = [(forced, best), *[(tid, sc) for tid, sc in ranked if tid != forced]]
        elif risk.level is not Risk.ACUTE and self._declines(
            lexical, hits, semantic, vectors, about_child=about_child, own_matter=own_matter,
            english=base["language"] == "en",
        ):
            return self._not_answered(content, risk, base, own_matter=own_matter)
        return self._answer(ranked, hits, risk, forced, chosen, office, base)

    def _answer(self, ranked: list[tuple[str, float]], hits: dict[str, list[PhraseHit]], risk: _Risk,
                forced: str | None, chosen: str | None, office: bool, base: dict[str, Any]) -> Answer:
        """The answer for the leading topics, with contacts, material and clarifying questions."""
        best = ranked[0][1]
        kept = [ranked[0], *[(tid, s) for tid, s in ranked[1:] if s >= max(DECLINE_BELOW, KEEP_RATIO * best)]]
        kept = kept[:MAX_TOPICS]
        topics = tuple(TopicScore(self.kb.topics[tid], _confidence(s)) for tid, s in kept)
        clarify_parts: list[str] = []
        clarify_topics: tuple[str, ...] = ()
        if len(kept) > 1 and kept[1][1] >= TIE_RATIO * kept[0][1] and not (risk.level is Risk.ACUTE or forced):
            clarify_topics = (kept[0][0], kept[1][0])
            a, b = (self.kb.topics[t].name.lower() for t in clarify_topics)
            clarify_parts.append(CLARIFY_TOPICS.format(a=a, b=b))
        if chosen is None:
            clarify_parts.append(CLARIFY_MUNICIPALITY)
        emergency = self._emergency(risk.danger, chosen, office) if risk.level is not Risk.NONE else ()
        contacts = self._contacts(topics[0].topic.roles, chosen, skip={c.contact.id for c in emergency})
        return Answer(
            kind=Kind.ANSWER, urgent=risk.level is Risk.ACUTE, risk=risk.level, danger=risk.danger,
            topics=topics, contacts=contacts, emergency=emergency,
            materials=self._pick_materials(hits["materials"], [t.topic for t in topics]),
            clarify=" ".join(clarify_parts) or None, clarify_topics=clarify_topics,
            clarify_municipality=chosen is None, **base,
        )

    def _clarify_vague(self, semantic: dict[str, float], base: dict[str, Any]) -> Answer:
        """A clarifying question with the likeliest topics as choices."""
        choices = [t for t in _DEFAULT_CHOICES if t in self.kb.topics]
        choices += [t for t in sorted(semantic, key=lambda t: -semantic[t]) if t not in choices]
        return Answer(kind=Kind.CLARIFY, urgent=False, clarify=CLARIFY_VAGUE,
                      clarify_topics=tuple(choices[:CLARIFY_CHOICES]), **base)

    def _not_answered(self, content: list[str], risk: _Risk, base: dict[str, Any], *, own_matter: bool) -> Answer:
        """A greeting, thanks or a decline (`own_matter`: one about the writer's own health, leave or work)."""
        kind = self._small_talk_kind(content)
        return Answer(kind=kind, urgent=False, risk=risk.level if risk.level is Risk.POSSIBLE else Risk.NONE,
                      danger=risk.danger if risk.level is Risk.POSSIBLE else None,
                      own_matter=own_matter and kind is Kind.DECLINED, **base)

    # -- evidence ------------------------------------------------------------

    def _encode(self, text: str) -> np.ndarray | None:
        """The message's vector, then one per sentence for a long message (None without the encoder).

        Sentences are encoded on their own only when there are at least LONG_SENTENCES of
        them: in a long message the acute part may come late, and the whole-message
        vector alone would dilute it.
        """
        if self.semantic is None:
            return None
        return self.semantic.encode([text, *self._sentence_parts(text)])

    @staticmethod
    def _sentence_parts(text: str) -> list[str]:
        """The sentences `_encode` encodes on their own: none unless there are LONG_SENTENCES."""
        parts = [s for s in sentences(text) if len(s.split()) >= 3][:MAX_SENTENCES]
        return parts if len(parts) >= LONG_SENTENCES else []

    def _same_as_phrasing(self, vectors: np.ndarray | None) -> str | None:
        """The topic whose example phrasing says the same as the message (a curator's fix always holds)."""
        if vectors is None or self.semantic is None:
            return None
        topic, sim = self.semantic.nearest_phrasing(vectors[0])
        return topic if sim >= SEM_SAME else None

    def _fuse(self, lexical: dict[str, float], semantic: dict[str, float],
              modelled: dict[str, float]) -> dict[str, float]:
        """Word scores plus shares for the topics nearest in meaning: by phrasings, and by the topic model."""
        scores: dict[str, float] = defaultdict(float, lexical)
        for near, weight, window in ((semantic, SEM_WEIGHT, SEM_WINDOW), (modelled, MODEL_WEIGHT, MODEL_WINDOW)):
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
        not clearly nearer a topic than the off-topic examples (SEM_OFF_NO_CHILD)
        needs one strong keyword. Otherwise the words decide. An English message is
        compared with mostly Swedish wordings, so its cosines run lower: it answers on
        meaning from SEM_ACCEPT_EN and SEM_OFF_MARGIN_EN (its words rarely help).
        """
        strong = self.lexical.strongest_keyword(hits["keywords"]) >= OFFTOPIC_NEEDS
        if own_matter:
            return True  # not a child's welfare
        best = max(lexical.values(), default=0.0)
        if semantic and vectors is not None and self.semantic is not None:
            top = max(semantic.values())
            margin = top - self.semantic.offtopic_similarity(vectors[0])
            accept, needed = (SEM_ACCEPT_EN, SEM_OFF_MARGIN_EN) if english else (SEM_ACCEPT, SEM_OFF_MARGIN)
            needed = needed if about_child else max(needed, SEM_OFF_NO_CHILD)
            if top >= accept and margin >= needed:
                return False
            if margin < SEM_OFF_BELOW or top < SEM_FAR:
                return best < WORDS_OVERRIDE
            if margin < needed:  # names no child and reads much like the off-topic examples
                return best < WORDS_OVERRIDE and not strong
        if hits["offtopic"] and not strong:
            return True
        return best < DECLINE_BELOW

    def _risk(self, text: str, analysis: Analysis, lexical: dict[str, float],
              vectors: np.ndarray | None, near: dict[str, float]) -> _Risk:
        """Acute, possible or none, from the acute concepts and the risk exemplars."""
        found, marked = self.concepts.find(analysis)
        content = [w for w in analysis.words if w != BREAK]
        n_sentences = (max(analysis.sentence) + 1) if analysis.sentence else 1
        general = bool(marked["general"]) and not marked["immediacy"] and n_sentences <= GENERAL_SENTENCES
        acute = [h for h in found if h.weakened is None and not general]
        danger, margin, focus = self._semantic_risk(vectors)
        if acute:
            # Words say acute; only a message long enough to read, and clearly calm, is demoted.
            long_enough = len(content) >= VETO_WORDS
            calm_reading = vectors is not None and margin < SEM_VETO and long_enough
            # Of several concepts, the first whose danger the message's meaning also reads.
            hit = next((h for h in acute if self.kb.urgency.concepts[h.concept].danger == danger), acute[0])
            return self._concept_risk(hit, Risk.POSSIBLE if calm_reading else Risk.ACUTE)
        now = self._urgent_now(lexical, marked, general)
        if now:
            return now
        # Assessed as low: still possible. Past and handled: possible only if it also reads acute.
        weakened = [h for h in found if h.weakened == "assessed" or (h.weakened == "past" and margin >= SEM_POSSIBLE)]
        calm = self._calm_sentence(self._sentence_parts(text)[focus - 1:focus + 1]) if focus else _says_calm(marked, general)
        if danger and margin >= SEM_ACUTE and not calm:
            # Meaning alone makes it acute only for a message about a child (not "tack!" or a printer).
            d = Danger(danger)
            level = Risk.ACUTE if self._about_a_child(content) else Risk.POSSIBLE
            return _Risk(level, d, self._topic_of_danger(d, near))
        if weakened:
            return self._concept_risk(weakened[0], Risk.POSSIBLE)
        if danger and margin >= SEM_POSSIBLE and not calm:
            d = Danger(danger)
            return _Risk(Risk.POSSIBLE, d, self._topic_of_danger(d, near))
        return _Risk(Risk.NONE, None, None)

    def _topic_of_danger(self, danger: Danger, near: dict[str, float]) -> str | None:
        """The topic a danger read from meaning is about: of the topics whose `emergency` it is, the nearest."""
        topics = [t.id for t in self.kb.topics.values() if t.emergency == danger]
        return max(topics, key=lambda t: near.get(t, -1.0), default=None)

    def _calm_sentence(self, parts: list[str]) -> bool:
        """True when these sentences say it is past, assessed, grief, denied or a general question."""
        _, marked = self.concepts.find(self.matcher.analyse(" ".join(parts)))
        return _says_calm(marked, bool(marked["general"]) and not marked["immediacy"])

    def _acute_topic(self, scores: dict[str, float], risk: _Risk) -> _Risk:
        """The topic an acute message is about: the likeliest one an emergency can be about.

        The risk's own topic gets CONCEPT_TOPIC_BONUS when a concept found it, else ACUTE_TOPIC_BONUS;
        when another self-harm or violence topic wins, its danger decides the emergency route.
        """
        def score(tid: str) -> float:
            bonus = CONCEPT_TOPIC_BONUS if risk.from_concept else ACUTE_TOPIC_BONUS
            return scores.get(tid, 0.0) + (bonus if tid == risk.topic else 0.0)

        candidates = [t.id for t in self.kb.topics.values() if t.emergency]
        best = max(candidates, key=lambda t: (score(t), t == risk.topic), default=risk.topic)
        if best is None or best == risk.topic or score(best) <= 0:
            return risk
        topic = self.kb.topics[best]
        danger = Danger(topic.emergency) if topic.urgent and topic.emergency else risk.danger
        return _Risk(risk.level, danger, best)

    def _concept_risk(self, hit: ConceptHit, level: Risk) -> _Risk:
        concept = self.kb.urgency.concepts[hit.concept]
        return _Risk(level, Danger(concept.danger), concept.topic, from_concept=True)

    def _urgent_now(self, lexical: dict[str, float], marked: dict[str, set[int]], general: bool) -> _Risk | None:
        """A message mainly about an urgent topic that says it is happening now ("idag", "just nu")."""
        calm = marked["bereavement"] or marked["past"] or marked["assessed"]
        if general or calm or not marked["immediacy"] or not lexical:
            return None
        top = self.kb.topics[max(lexical, key=lambda t: lexical[t])]
        if top.urgent and lexical[top.id] >= NOW_NEEDS:
            return _Risk(Risk.ACUTE, Danger(top.emergency) if top.emergency else Danger.VIOLENCE, top.id)
        return None

    def _semantic_risk(self, vectors: np.ndarray | None) -> tuple[str | None, float, int]:
        """The danger the message speaks of; the risk score of the message or of its most acute
        sentence (less SENTENCE_DOUBT), whichever is higher; and that sentence's number (1-based;
        0 when the message was not split into sentences).

        Only that sentence and the next can calm a long message: "i höstas blev det bättre"
        early on does not calm what happens today.
        """
        if vectors is None or self.semantic is None:
            return None, -1.0, 0
        scores = [self.semantic.risk(q) - (SENTENCE_DOUBT if i else 0.0) for i, q in enumerate(vectors)]
        focus = 1 + int(np.argmax(scores[1:])) if len(scores) > 1 else 0
        return self.semantic.danger(vectors[0]), max(scores), focus

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

    def is_office_hours(self, now: datetime) -> bool:
        """True on Swedish working days within knowledge/urgency.yaml's office hours."""
        local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(TZ)
        with self._holidays_lock:
            holiday = local.date() in self._holidays
        if local.weekday() >= 5 or holiday:
            return False
        return self._office[0] <= local.time() < self._office[1]

    def _routed(self, role: str, municipality: str | None) -> RoutedContact | None:
        scope = self.kb.roles[role].scope if role in self.kb.roles else "regional"
        if scope == "municipal" and municipality is None:
            return None
        contact = self.kb.contact_for(role, municipality)
        if contact is None:
            return None
        local = municipality is not None and role in self.kb.contacts.municipalities.get(municipality, {})
        return RoutedContact(role, contact, municipality if local else None)

    def _emergency(self, danger: Danger | None, municipality: str | None, office: bool) -> tuple[RoutedContact, ...]:
        out: list[RoutedContact] = []
        sos = next((c for c in self.kb.contacts.national if c.phone.replace(" ", "") == "112"), None)
        if sos is not None:
            out.append(RoutedContact("112", sos, None))
        for role in EMERGENCY_ROLES.get(danger, ()) if danger else ():
            if role == "social":
                role = "socialtjanst-mottagning" if office and municipality else "socialjour"
            rc = self._routed(role, municipality)
            if rc is not None:
                out.append(rc)
        return tuple(out)

    def _contacts(self, roles: tuple[str, ...], municipality: str | None, skip: set[str]) -> tuple[RoutedContact, ...]:
        out: list[RoutedContact] = []
        for role in roles:
            rc = self._routed(role, municipality)
            if rc is not None and rc.contact.id not in skip:
                skip.add(rc.contact.id)
                out.append(rc)
        return tuple(out)

    def _pick_materials(self, material_hits: list[PhraseHit], topics: list) -> tuple:
        # Named materials first: the one the message says most about, then the earliest named.
        positions: dict[str, set[int]] = defaultdict(set)
        for hit in material_hits:
            positions[self._material_of[hit.key]].update(range(hit.start, hit.end + 1))
        ids = sorted(positions, key=lambda m: (-len(positions[m]), min(positions[m])))
        for topic in topics[:1]:
            ids.extend(topic.materials[:3])
        return tuple(self.kb.materials[m] for m in dict.fromkeys(ids) if m in self.kb.materials)[:5]


# What a vague worry is most often about: offered first when Lotsen asks.
_DEFAULT_CHOICES = ("psykisk-ohalsa", "oro-hemmet", "skolfranvaro", "npf", "kamrater-ensamhet")


def _says_calm(marked: dict[str, set[int]], general: bool) -> bool:
    """True when the marked text is a general question, or says the danger is past, assessed, grief or denied."""
    return general or bool(marked["bereavement"] or marked["past"] or marked["assessed"] or marked["denied"])


def _confidence(raw: float) -> float:
    """Maps a raw score to 0..1: one strong keyword ≈ 0.6, two ≈ 0.85."""
    return 1.0 - math.exp(-raw / 3.3)
