"""Whom an answer names: the emergency route for a danger and time of day, the topic's contacts, the material.

`ContactPicker` is built once per knowledge base. A municipal role is named only
when the municipality is known; a municipality's own contact comes before the
regional one; social services within office hours (Swedish working days,
knowledge/urgency.yaml's `office_hours`) and the social on-call service outside them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import holidays

from bot.core.answer import Danger, RoutedContact
from bot.core.matching import PhraseHit
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.schema import Material, Topic

TZ = ZoneInfo("Europe/Stockholm")
MAX_MATERIALS = 5

# Emergency roles per danger; "social" is social services within office hours and
# the social on-call service (socialjour) outside them.
EMERGENCY_ROLES: dict[Danger, tuple[str, ...]] = {
    Danger.SELF_HARM: ("bup-akut", "social"),
    Danger.VIOLENCE: ("social", "polis"),
    Danger.UNSAFE_HOME: ("social", "polis"),
}


class ContactPicker:
    """Chooses contacts and material for one knowledge base; see the module docstring."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        # Filled in per year on first look-up, which is not safe while another thread looks up:
        # the years around now are filled in here, and later look-ups hold _holidays_lock.
        this_year = datetime.now(TZ).year
        self._holidays = holidays.country_holidays("SE", years=range(this_year - 1, this_year + 3))
        self._holidays_lock = threading.Lock()
        start, end = kb.urgency.office_hours.split("-")
        self._office = (time.fromisoformat(start), time.fromisoformat(end))

    def is_office_hours(self, now: datetime) -> bool:
        """True on Swedish working days within knowledge/urgency.yaml's office hours."""
        local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(TZ)
        with self._holidays_lock:
            holiday = local.date() in self._holidays
        if local.weekday() >= 5 or holiday:
            return False
        return self._office[0] <= local.time() < self._office[1]

    def routed(self, role: str, municipality: str | None) -> RoutedContact | None:
        """The contact filling `role` for the municipality (None for a municipal role without one)."""
        scope = self.kb.roles[role].scope if role in self.kb.roles else "regional"
        if scope == "municipal" and municipality is None:
            return None
        contact = self.kb.contact_for(role, municipality)
        if contact is None:
            return None
        local = municipality is not None and role in self.kb.contacts.municipalities.get(municipality, {})
        return RoutedContact(role, contact, municipality if local else None)

    def emergency(self, danger: Danger | None, municipality: str | None, office: bool) -> tuple[RoutedContact, ...]:
        """112 first, then the roles of the danger's emergency route."""
        out: list[RoutedContact] = []
        sos = next((c for c in self.kb.contacts.national if c.phone.replace(" ", "") == "112"), None)
        if sos is not None:
            out.append(RoutedContact("112", sos, None))
        for role in EMERGENCY_ROLES.get(danger, ()) if danger else ():
            if role == "social":
                role = "socialtjanst-mottagning" if office and municipality else "socialjour"
            rc = self.routed(role, municipality)
            if rc is not None:
                out.append(rc)
        return tuple(out)

    def contacts(self, roles: tuple[str, ...], municipality: str | None, skip: set[str]) -> tuple[RoutedContact, ...]:
        """The contacts of these roles, in order, leaving out those in `skip` (already named)."""
        out: list[RoutedContact] = []
        for role in roles:
            rc = self.routed(role, municipality)
            if rc is not None and rc.contact.id not in skip:
                skip.add(rc.contact.id)
                out.append(rc)
        return tuple(out)

    def materials(self, named: list[PhraseHit], material_of: list[str], topics: list[Topic]) -> tuple[Material, ...]:
        """Named materials first (the one the message says most about, then the earliest), then the topic's."""
        positions: dict[str, set[int]] = defaultdict(set)
        for hit in named:
            positions[material_of[hit.key]].update(range(hit.start, hit.end + 1))
        ids = sorted(positions, key=lambda m: (-len(positions[m]), min(positions[m])))
        for topic in topics[:1]:
            ids.extend(topic.materials[:3])
        return tuple(self.kb.materials[m] for m in dict.fromkeys(ids) if m in self.kb.materials)[:MAX_MATERIALS]
