"""The router's typed answer: what Lotsen decided for one message.

Adapters (Telegram, CLI) render it; storage logs it. It holds ids and the
knowledge-base objects they point to, so rendering needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.schema import Contact, Material, Topic


class Kind(StrEnum):
    """What sort of message the router saw."""

    ANSWER = "answer"  # at least one topic matched
    DECLINED = "declined"  # off-topic or nothing Lotsen knows about
    GREETING = "greeting"  # hello: answered kindly, not counted as a miss
    THANKS = "thanks"  # thank you: answered kindly, not counted as a miss
    EMPTY = "empty"  # nothing left after removing emoji, markup and whitespace


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
    urgent: bool
    office_hours: bool
    topics: tuple[TopicScore, ...] = ()
    contacts: tuple[RoutedContact, ...] = ()
    emergency: tuple[RoutedContact, ...] = ()
    materials: tuple[Material, ...] = ()
    clarify: str | None = None
    clarify_topics: tuple[str, ...] = ()  # candidate topic ids when two tie
    clarify_municipality: bool = False  # True when the router needs the municipality
    personnummer: bool = False
    notes: tuple[str, ...] = field(default=())  # short Swedish notes (e.g. text was truncated)

    @property
    def declined(self) -> bool:
        return self.kind is not Kind.ANSWER

    @property
    def top_topic(self) -> str | None:
        return self.topics[0].id if self.topics else None

    def to_json(self) -> dict[str, Any]:
        """Returns the JSON shape of `lotsen route --jsonl` (taxonomy ids only)."""
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
            "topics": [{"id": t.id, "score": round(t.score, 3)} for t in self.topics],
            "contacts": out_contacts,
            "materials": [{"id": m.id} for m in self.materials],
            "clarify": self.clarify,
            "personnummer": self.personnummer,
        }
