"""Acute risk from words: concepts of danger found in a message, and what weakens them.

`Concepts` is built once per knowledge base from knowledge/urgency.yaml. For
one analysed message it reports every acute concept found in it, each with
the sentence it stands in and why it may not be acute now:

- a negation earlier in the same clause ("inga självmordstankar") removes it;
- a death close by ("efter självmordet", "pappa tog sitt liv") makes it grief;
- a relative named right before a self-harm word ("pappa försökte ta sitt
  liv") makes it about them, not the child;
- a word saying the risk was assessed as low or that it was a joke, in the
  same or the next sentence, makes it a possible risk only;
- in the same sentence, a word saying it is past and handled makes it a
  possible risk only, and a general question about routines removes it —
  unless that sentence also says it is happening now (immediacy words);
- a past marker right after "sedan" ("sedan förra veckan") says how long it
  has gone on, not that it is over; an immediacy word right next to a word of
  telling ("berättade idag att …") dates the telling, not what was told.

Pure and synchronous, like the rest of the routing core; `bot.core.router`
combines these findings with the sentence encoder's judgement.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.matching import Analysis, Lexicon, PhraseHit, phrase_stems
from bot.knowledge.schema import Urgency

GRIEF_REACH = 4  # words between a death ("tog sitt liv", "efter självmordet") and the acute word it explains
DENY_REACH = 3  # a negation this close before a self-harm phrase denies it ("never had thoughts of hurting")
# "now" is "immediacy" without the words that date a telling: only it overrides past and general.
_MARKERS = ("past", "assessed", "bereavement", "general", "immediacy", "now")
NEXT_TO_REACH = 2  # "sedan förra veckan", "told me today": positions from the word to the marker
RELATIVE_REACH = 1  # words between a relative and the self-harm word that is about them


@dataclass(frozen=True, slots=True)
class ConceptHit:
    """One acute concept found in a message."""

    concept: int  # index into Urgency.concepts
    sentence: int
    start: int
    weakened: str | None  # "past", "assessed", "bereavement" or None (acute as it stands)


class Concepts:
    """Finds the acute concepts of knowledge/urgency.yaml in analysed messages."""

    def __init__(self, urgency: Urgency) -> None:
        self.urgency = urgency
        groups: dict[str, list[tuple[str, ...]]] = {
            "negations": [phrase_stems(n) for n in urgency.negations],
            "past": [phrase_stems(p) for p in urgency.past],
            "assessed": [phrase_stems(p) for p in urgency.assessed],
            "bereavement": [phrase_stems(p) for p in urgency.bereavement],
            "general": [phrase_stems(p) for p in urgency.general_markers],
            "immediacy": [phrase_stems(p) for p in urgency.immediacy],
            "relatives": [phrase_stems(p) for p in urgency.relatives],
            "ongoing": [phrase_stems(p) for p in urgency.ongoing],
            "telling": [phrase_stems(p) for p in urgency.telling],
        }
        self._phrase_concept: list[int] = []
        phrases: list[tuple[str, ...]] = []
        self._pair_parts: list[tuple[int, int, int]] = []  # (concept, pair, side) per pair word
        pair_words: list[tuple[str, ...]] = []
        for c, concept in enumerate(urgency.concepts):
            for phrase in concept.phrases:
                phrases.append(phrase_stems(phrase))
                self._phrase_concept.append(c)
            for p, (left, right) in enumerate(concept.pairs):
                for side, words in enumerate((left, right)):
                    for word in words:
                        pair_words.append(phrase_stems(word))
                        self._pair_parts.append((c, p, side))
        groups["phrases"] = phrases
        groups["pairs"] = pair_words
        self.lexicon = Lexicon(groups)
        self._negations = frozenset(s for n in groups["negations"] for s in n)

    def find(self, analysis: Analysis) -> tuple[list[ConceptHit], dict[str, set[int]]]:
        """The concepts in the message, and the sentences that hold each kind of marker.

        A marker that is itself negated ("inget akut just nu") does not count. A
        self-harm phrase with a negation just before it is no hit; its sentence is "denied".
        """
        hits = self.lexicon.find(analysis)
        hits["past"] = _not_next_to(hits["past"], hits["ongoing"], analysis, after=True)
        hits["now"] = _not_next_to(hits["immediacy"], hits["telling"], analysis, after=False)
        sentence = analysis.sentence or [0] * len(analysis.words)
        marked = {name: {sentence[h.start] for h in hits[name] if not self._denied(analysis, h)} for name in _MARKERS}
        found: list[tuple[int, PhraseHit]] = []
        marked["denied"] = set()  # sentences that deny self-harm ("har inga tankar på att skada sig")
        for h in hits["phrases"]:
            if not self._negated(analysis, h) and not self._negation_after(analysis, h):
                found.append((self._phrase_concept[h.key], h))
            elif self._denies_self_harm(analysis, h):
                marked["denied"].add(sentence[h.start])
        found += self._pairs(analysis, hits["pairs"], sentence)
        deaths = [(h.start, h.end) for h in hits["bereavement"]]
        kin = [h.end for h in hits["relatives"]]
        out = []
        for concept, h in sorted(found, key=lambda item: item[1].start):
            s = sentence[h.start]
            if any(start - GRIEF_REACH <= h.end and h.start <= end + GRIEF_REACH for start, end in deaths):
                why: str | None = "bereavement"
            elif self.urgency.concepts[concept].danger == "self-harm" and any(
                0 < h.start - end <= RELATIVE_REACH + 1 for end in kin
            ):
                why = "bereavement"  # about a relative: the child's worry, not the child's emergency
            elif {s, s + 1} & marked["assessed"]:
                why = "assessed"  # judged low, or a joke: here or in the next sentence, even if "today"
            else:
                why = self._weakened(s, marked)
            out.append(ConceptHit(concept, s, h.start, why))
        return out, marked

    def _pairs(self, analysis: Analysis, hits: list[PhraseHit], sentence: list[int]) -> list[tuple[int, PhraseHit]]:
        """Pairs whose two sides both stand in one sentence, neither of them negated."""
        sides: dict[tuple[int, int, int], dict[int, list[PhraseHit]]] = {}
        for h in hits:
            concept, pair, side = self._pair_parts[h.key]
            sides.setdefault((concept, pair, sentence[h.start]), {}).setdefault(side, []).append(h)
        out = []
        for (concept, _, _), by_side in sides.items():
            if 0 not in by_side or 1 not in by_side:
                continue
            left = min(by_side[0], key=lambda h: h.start)
            right = [h for h in by_side[1] if h.end < left.start or h.start > left.end]
            if not right:
                continue
            other = right[0]
            # A negation inside the other side ("får ingen mat") belongs to the pair, not against it.
            if self._negated(analysis, left, skip=other) or self._negated(analysis, other, skip=left):
                continue
            out.append((concept, min(left, other, key=lambda h: h.start)))
        return out

    def _denied(self, analysis: Analysis, hit: PhraseHit) -> bool:
        """A marker said not to hold: negated before it, or right after it ("han skämtade inte")."""
        return self._negation_after(analysis, hit) or self._negated(analysis, hit)

    def _negation_after(self, analysis: Analysis, hit: PhraseHit) -> bool:
        """A negation right after the hit in its clause, as a main clause puts it ("hon skär sig inte")."""
        after = hit.end + 1
        same_clause = after < len(analysis.alts) and analysis.clause[after] == analysis.clause[hit.end]
        return same_clause and bool(analysis.alts[after] & self._negations)

    def _denies_self_harm(self, analysis: Analysis, hit: PhraseHit) -> bool:
        """A self-harm phrase with a negation at most DENY_REACH words before it ("inga tankar på att skada sig")."""
        if self.urgency.concepts[self._phrase_concept[hit.key]].danger != "self-harm":
            return False
        before = range(max(0, hit.start - DENY_REACH), hit.start)
        return any(analysis.alts[p] & self._negations and analysis.clause[p] == analysis.clause[hit.start] for p in before)

    def _negated(self, analysis: Analysis, hit: PhraseHit, skip: PhraseHit | None = None) -> bool:
        """True when a negation stands earlier in the hit's clause (outside `skip`)."""
        clause = analysis.clause[hit.start]
        p = hit.start - 1
        while p >= 0 and analysis.clause[p] == clause:
            inside = skip is not None and skip.start <= p <= skip.end
            if not inside and analysis.alts[p] & self._negations:
                return True
            p -= 1
        return False

    @staticmethod
    def _weakened(s: int, marked: dict[str, set[int]]) -> str | None:
        """Why a concept in sentence `s` is not acute as it stands (unless the sentence says it is now)."""
        if s in marked["now"]:
            return None
        for kind in ("general", "past"):
            if s in marked[kind]:
                return kind
        return None


def _not_next_to(markers: list[PhraseHit], words: list[PhraseHit], analysis: Analysis, *, after: bool) -> list[PhraseHit]:
    """The markers that do not stand just after one of `words` (or, unless `after`, just before one either).

    "Just" is at most NEXT_TO_REACH positions on, in the same clause ("told me today").
    """
    def touches(m: PhraseHit, w: PhraseHit) -> bool:
        if analysis.clause[m.start] != analysis.clause[w.start]:
            return False
        return 0 < m.start - w.end <= NEXT_TO_REACH or (not after and 0 < w.start - m.end <= NEXT_TO_REACH)

    return [m for m in markers if not any(touches(m, w) for w in words)]
