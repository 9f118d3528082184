"""The router's typed answer: what Lotsen decided for one message.

Adapters (Telegram, CLI) render it; storage logs it. It holds ids and the
knowledge-base objects they point to, so rendering needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.knowledge.schema import Contact, Material, Topic


class Risk(StrEnum):
    """How acute the danger to a child is, as the router judged it."""

    NONE = "none"  # nothing acute: the ordinary answer
    POSSIBLE = "possible"  # a risk that may be acute: one line with the acute numbers above the answer
    ACUTE = "acute"  # a child at risk now: the answer starts with the emergency route


class Danger(StrEnum):
    """What kind of acute danger, which decides the emergency route."""

    SELF_HARM = "self-harm"  # suicide risk or self-injury: 112 if life is at risk, BUP akut
    VIOLENCE = "violence"  # violence or abuse at home or by an adult: 112, social services / socialjour
    UNSAFE_HOME = "unsafe-home"  # a child afraid to go home: do not send the child home


class Kind(StrEnum):
    """What sort of message the router saw."""

    ANSWER = "answer"  # at least one topic matched
    DECLINED = "declined"  # off-topic or nothing Lotsen knows about
    GREETING = "greeting"  # hello: answered kindly, not counted as a miss
    THANKS = "thanks"  # thank you: answered kindly, not counted as a miss
    EMPTY = "empty"  # nothing left after removing emoji, markup and whitespace
    CLARIFY = "clarify"  # a worried message too vague to route: Lotsen asks what it is about


@dataclass(frozen=True, slots=True)
class TopicScore:
    """One ranked topic and the router's confidence in it (0..1)."""

    topic: Topic
    score: float

    @property
    def id(self) -> str:
        return self.topic.id


@dataclass(frozen=True, slots=True)
class RoutedContact:
    """A contact chosen for this answer, with the role it fills."""

    role: str
    contact: Contact
    municipality: str | None  # None for regional and national contacts


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything the router decided about one message."""

    kind: Kind
    municipality: str | None
    municipality_from_text: bool
    urgent: bool  # exactly when risk is ACUTE
    office_hours: bool
    risk: Risk = Risk.NONE
    danger: Danger | None = None  # set when risk is not NONE
    language: str = "sv"  # "en" when the message was written in English
    topics: tuple[TopicScore, ...] = ()
    contacts: tuple[RoutedContact, ...] = ()
    emergency: tuple[RoutedContact, ...] = ()
    materials: tuple[Material, ...] = ()
    clarify: str | None = None
    clarify_topics: tuple[str, ...] = ()  # candidate topic ids when two tie
    clarify_municipality: bool = False  # True when the router needs the municipality
    personnummer: bool = False
    removed: frozenset[str] = frozenset()  # kinds of identifier left out of the text ("namn", "telefon" …)
    own_matter: bool = False  # declined as the writer's own health, leave or work (not a child's)
    notes: tuple[str, ...] = field(default=())  # short Swedish notes (e.g. text was truncated)

    @property
    def declined(self) -> bool:
        return self.kind is not Kind.ANSWER

    @property
    def top_topic(self) -> str | None:
        return self.topics[0].id if self.topics else None

    def to_json(self) -> dict[str, Any]:
        """Returns the JSON shape of `lotsen dirigera --jsonl` (taxonomy ids only)."""
        contacts = [*self.emergency, *self.contacts]
        seen: set[str] = set()
        out_contacts = []
        for rc in contacts:
            if rc.contact.id in seen:
                continue
            seen.add(rc.contact.id)
            out_contacts.append(
                {
                    "id": rc.contact.id,
                    "role": rc.role,
                    "municipality": rc.municipality,
                    "name": rc.contact.name,
                    "phone": rc.contact.phone,
                }
            )
        return {
            "municipality": self.municipality,
            "urgent": self.urgent,
            "risk": self.risk.value,
            "danger": self.danger.value if self.danger else None,
            "language": self.language,
            "topics": [{"id": t.id, "score": round(t.score, 3)} for t in self.topics],
            "contacts": out_contacts,
            "materials": [{"id": m.id} for m in self.materials],
            "clarify": self.clarify,
            "personnummer": self.personnummer,
            "removed": sorted(self.removed),
        }
