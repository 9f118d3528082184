"""The knowledge base as Lotsen uses it: immutable, cross-checked, built by `bot.knowledge.loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.knowledge.schema import (
    Contact,
    Contacts,
    EmergencyRoute,
    Glossary,
    Material,
    Municipality,
    Privacy,
    RiskExamples,
    Role,
    SmallTalk,
    Topic,
    TopicSteps,
    Urgency,
    Wheel,
)
from bot.text.normalize import tokens


@dataclass(frozen=True)
class ContactAge:
    """A contact, where it applies, when it was last verified and how many days ago (None: never)."""

    contact: Contact
    where: str
    verified: date | None
    age: int | None
    line: int

    def stale(self, max_days: int) -> bool:
        return self.age is None or self.age > max_days


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything Lotsen knows, cross-checked; immutable so a reload can swap it atomically."""

    topics: dict[str, Topic]
    materials: dict[str, Material]
    roles: dict[str, Role]
    municipalities: dict[str, Municipality]
    glossary: Glossary
    smalltalk: SmallTalk
    urgency: Urgency
    risk: RiskExamples
    wheel: Wheel
    contacts: Contacts
    source: Path
    steps: dict[str, TopicSteps] = field(default_factory=dict)  # knowledge/steps.yaml, by topic id
    emergency: dict[str, EmergencyRoute] = field(default_factory=dict)  # knowledge/emergency.yaml, by danger
    privacy: Privacy = field(default_factory=Privacy)  # knowledge/privacy.yaml (optional)
    learned_texts: frozenset[str] = frozenset()  # texts the learned overlay added (never shipped beside the knowledge)

    def contact_by_id(self, contact_id: str) -> Contact | None:
        """The contact with this id anywhere in contacts.yaml (national, regional or municipal)."""
        for contact in self._contacts_by_id_list():
            if contact.id == contact_id:
                return contact
        return None

    def _contacts_by_id_list(self) -> list[Contact]:
        out = [*self.contacts.national, *self.contacts.regional.values()]
        for by_role in self.contacts.municipalities.values():
            out.extend(by_role.values())
        return out
    contact_lines: dict[str, int] = field(default_factory=dict)  # contact id -> line in contacts.yaml

    def contact_for(self, role: str, municipality: str | None) -> Contact | None:
        """The contact filling `role`: the municipality's own first, then the regional one."""
        if municipality is not None:
            local = self.contacts.municipalities.get(municipality, {}).get(role)
            if local is not None:
                return local
        return self.contacts.regional.get(role)

    @cached_property
    def _place_names(self) -> dict[str, str]:
        """Folded names, aliases and localities -> municipality id (built once)."""
        candidates: dict[str, str] = {}
        for m in self.municipalities.values():
            for label in (m.id, m.name, *m.aliases, *m.localities):
                candidates[" ".join(tokens(label))] = m.id
        return candidates

    def find_municipality(self, name: str) -> str | None:
        """Municipality id for a name typed by a person ("nykoping", "Flens", "Torshälla")."""
        words = [t for t in tokens(name) if t != "."]
        if not words:
            return None
        query = " ".join(words)
        candidates = self._place_names
        if query in candidates:
            return candidates[query]
        if query.endswith("s") and query[:-1] in candidates:
            return candidates[query[:-1]]
        best = process.extractOne(query, list(candidates), scorer=fuzz.ratio, score_cutoff=80)
        return candidates[best[0]] if best else None

    def contact_ages(self, today: date, confirmed: Mapping[str, date] | None = None) -> list[ContactAge]:
        """Every contact with the day it was last verified (file or Telegram overlay) and its age in days."""
        confirmed = confirmed or {}
        out = []
        for loc, contact in all_contacts(self.contacts):
            where = "nationellt" if loc[0] == "national" else "regionalt" if loc[0] == "regional" else self.municipality_name(loc[1])
            days = [d for d in (contact.verified, confirmed.get(contact.id)) if d is not None]
            verified = max(days) if days else None
            age = (today - verified).days if verified else None
            out.append(ContactAge(contact, where, verified, age, self.contact_lines.get(contact.id, 1)))
        return out

    def municipality_name(self, municipality: str | None) -> str:
        if municipality is None:
            return "okänd kommun"
        m = self.municipalities.get(municipality)
        return m.name if m else municipality


def all_contacts(contacts: Contacts) -> list[tuple[tuple[Any, ...], Contact]]:
    """Every contact with its path in contacts.yaml, in file order."""
    out: list[tuple[tuple[Any, ...], Contact]] = [(("national", i), c) for i, c in enumerate(contacts.national)]
    out += [(("regional", role), c) for role, c in contacts.regional.items()]
    out += [(("municipalities", mid, role), c) for mid, by_role in contacts.municipalities.items() for role, c in by_role.items()]
    return out
