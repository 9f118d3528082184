"""How acute a message is: the concepts of danger in its words and how acute its meaning reads.

`RiskReader` combines `bot.core.risk` (concepts of knowledge/urgency.yaml and what
weakens them in their sentence) with the semantic index's risk and danger models:

- an acute concept that nothing weakens makes the message acute, unless a message
  long enough to read is clearly calm in meaning (then it is possible);
- an urgent topic said to happen now ("idag", "just nu") on strong words is acute;
- meaning alone makes a message about a child acute, or possible when weaker,
  unless the most acute sentence (or the message) says it is past, assessed,
  grief, denied or a general question;
- a concept weakened by "assessed as low" (or "past", when it still reads acute) is possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.core.answer import Danger, Risk
from bot.core.matching import Analysis, Matcher
from bot.core.risk import ConceptHit, Concepts
from bot.core.semantic import SemanticIndex
from bot.core.thresholds import GENERAL_SENTENCES, Thresholds
from bot.knowledge.base import KnowledgeBase
from bot.text.normalize import BREAK


@dataclass(frozen=True)
class Finding:
    """How acute a message is, what kind of danger, and which topic the danger is about."""

    level: Risk
    danger: Danger | None
    topic: str | None
    from_concept: bool = False  # the signal is a concept of urgency.yaml, not meaning alone


NONE = Finding(Risk.NONE, None, None)


class RiskReader:
    """Reads the acuteness of analysed messages for one knowledge base; see the module docstring."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher, semantic: SemanticIndex | None, thresholds: Thresholds) -> None:
        self.kb = kb
        self.matcher = matcher
        self.concepts = Concepts(kb.urgency)
        self.semantic = semantic
        self.t = thresholds

    def read(self, analysis: Analysis, lexical: dict[str, float], vectors: np.ndarray | None,
             near: dict[str, float], parts: list[str], *, about_child: bool) -> Finding:
        """Acute, possible or none, from the acute concepts and the risk exemplars.

        `parts` are the sentences encoded on their own (vectors[1:]); `near` the topics' similarity
        in meaning; `about_child` whether the message names a child.
        """
        found, marked = self.concepts.find(analysis)
        content = [w for w in analysis.words if w != BREAK]
        n_sentences = (max(analysis.sentence) + 1) if analysis.sentence else 1
        general = bool(marked["general"]) and not marked["immediacy"] and n_sentences <= GENERAL_SENTENCES
        acute = [h for h in found if h.weakened is None and not general]
        danger, margin, focus = self._semantic_risk(vectors)
        if acute:
            # Words say acute; only a message long enough to read, and clearly calm, is demoted.
            long_enough = len(content) >= self.t.veto_words
            calm_reading = vectors is not None and margin < self.t.sem_veto and long_enough
            # Of several concepts, the first whose danger the message's meaning also reads.
            hit = next((h for h in acute if self.kb.urgency.concepts[h.concept].danger == danger), acute[0])
            return self._concept_risk(hit, Risk.POSSIBLE if calm_reading else Risk.ACUTE)
        now = self._urgent_now(lexical, marked, general)
        if now:
            return now
        # Assessed as low: still possible. Past and handled: possible only if it also reads acute.
        weakened = [h for h in found if h.weakened == "assessed" or (h.weakened == "past" and margin >= self.t.sem_possible)]
        calm = self._calm_sentence(parts[focus - 1:focus + 1]) if focus else says_calm(marked, general)
        if danger and margin >= self.t.sem_acute and not calm:
            # Meaning alone makes it acute only for a message about a child (not "tack!" or a printer).
            d = Danger(danger)
            return Finding(Risk.ACUTE if about_child else Risk.POSSIBLE, d, self._topic_of_danger(d, near))
        if weakened:
            return self._concept_risk(weakened[0], Risk.POSSIBLE)
        if danger and margin >= self.t.sem_possible and not calm:
            d = Danger(danger)
            return Finding(Risk.POSSIBLE, d, self._topic_of_danger(d, near))
        return NONE

    def acute_topic(self, scores: dict[str, float], risk: Finding) -> Finding:
        """The topic an acute message is about: the likeliest one an emergency can be about.

        The risk's own topic gets concept_topic_bonus when a concept found it, else acute_topic_bonus;
        when another self-harm or violence topic wins, its danger decides the emergency route.
        """
        def score(tid: str) -> float:
            bonus = self.t.concept_topic_bonus if risk.from_concept else self.t.acute_topic_bonus
            return scores.get(tid, 0.0) + (bonus if tid == risk.topic else 0.0)

        candidates = [t.id for t in self.kb.topics.values() if t.emergency]
        best = max(candidates, key=lambda t: (score(t), t == risk.topic), default=risk.topic)
        if best is None or best == risk.topic or score(best) <= 0:
            return risk
        topic = self.kb.topics[best]
        danger = Danger(topic.emergency) if topic.urgent and topic.emergency else risk.danger
        return Finding(risk.level, danger, best)

    def _topic_of_danger(self, danger: Danger, near: dict[str, float]) -> str | None:
        """The topic a danger read from meaning is about: of the topics whose `emergency` it is, the nearest."""
        topics = [t.id for t in self.kb.topics.values() if t.emergency == danger]
        return max(topics, key=lambda t: near.get(t, -1.0), default=None)

    def _calm_sentence(self, parts: list[str]) -> bool:
        """True when these sentences say it is past, assessed, grief, denied or a general question."""
        _, marked = self.concepts.find(self.matcher.analyse(" ".join(parts)))
        return says_calm(marked, bool(marked["general"]) and not marked["immediacy"])

    def _concept_risk(self, hit: ConceptHit, level: Risk) -> Finding:
        concept = self.kb.urgency.concepts[hit.concept]
        return Finding(level, Danger(concept.danger), concept.topic, from_concept=True)

    def _urgent_now(self, lexical: dict[str, float], marked: dict[str, set[int]], general: bool) -> Finding | None:
        """A message mainly about an urgent topic that says it is happening now ("idag", "just nu")."""
        calm = marked["bereavement"] or marked["past"] or marked["assessed"]
        if general or calm or not marked["immediacy"] or not lexical:
            return None
        top = self.kb.topics[max(lexical, key=lambda t: lexical[t])]
        if top.urgent and lexical[top.id] >= self.t.now_needs:
            return Finding(Risk.ACUTE, Danger(top.emergency) if top.emergency else Danger.VIOLENCE, top.id)
        return None

    def _semantic_risk(self, vectors: np.ndarray | None) -> tuple[str | None, float, int]:
        """The danger the message speaks of; the risk score of the message or of its most acute
        sentence (less sentence_doubt), whichever is higher; and that sentence's number (1-based;
        0 when the message was not split into sentences).

        Only that sentence and the next can calm a long message: "i höstas blev det bättre"
        early on does not calm what happens today.
        """
        if vectors is None or self.semantic is None:
            return None, -1.0, 0
        scores = [self.semantic.risk(q) - (self.t.sentence_doubt if i else 0.0) for i, q in enumerate(vectors)]
        focus = 1 + int(np.argmax(scores[1:])) if len(scores) > 1 else 0
        return self.semantic.danger(vectors[0]), max(scores), focus


def says_calm(marked: dict[str, set[int]], general: bool) -> bool:
    """True when the marked text is a general question, or says the danger is past, assessed, grief or denied."""
    return general or bool(marked["bereavement"] or marked["past"] or marked["assessed"] or marked["denied"])
