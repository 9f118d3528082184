"""Schemas of the knowledge base files and contacts.yaml.

Each model is one YAML shape that a process leader edits by hand. Field
descriptions are in Swedish-friendly terms because `lotsen kontrollera` quotes
them back when something is wrong. Cross-file rules (a topic names a role that
has no contact, a material that does not exist) live in `bot.knowledge.base`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# Numbers that the Swedish regulator PTS reserves for use in fiction
# (film, tv, books): 070-174 06 05 – 070-174 06 99, 08-465 004 00 – 08-465 004 99,
# 031-390 600 00 – 99, 040-628 04 00 – 99 and 0980-319 200 – 299.
FICTION_RANGES: tuple[tuple[str, int, int], ...] = (
    ("0701740", 605, 699),
    ("08465004", 0, 99),
    ("03139060", 0, 99),
    ("04062804", 0, 99),
    ("0980319", 200, 299),
)

# Real public numbers that every answer may show.
NATIONAL_NUMBERS = {"112", "1177", "11414", "116111", "113 13", "11313", "020912912", "0771141400"}


def phone_digits(phone: str) -> str:
    """Returns the digits of a phone number, with +46 turned into a leading 0."""
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+46"):
        digits = "0" + digits[2:]
    return digits


def is_fiction_number(phone: str) -> bool:
    """True when the number lies in one of PTS's ranges for fiction."""
    digits = phone_digits(phone)
    for prefix, low, high in FICTION_RANGES:
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == len(str(high)) and low <= int(rest) <= high:
            return True
    return False


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Danger = Literal["self-harm", "violence", "unsafe-home"]


class Topic(_Strict):
    """One thing school staff ask about (knowledge/topics/<id>.yaml)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=2)
    urgent: bool = False
    # The danger an acute message about this topic is about; set on every topic an emergency
    # can be about (an overdose is missbruk, a child left alone is oro-hemmet).
    emergency: Danger | None = None
    roles: tuple[str, ...] = Field(min_length=1)
    materials: tuple[str, ...] = ()
    answer: str = Field(min_length=20)
    keywords: tuple[str, ...] = Field(min_length=3)
    related: tuple[str, ...] = ()
    phrasings: tuple[str, ...] = Field(min_length=5)


class Material(_Strict):
    """Method material an answer can point to (knowledge/materials.yaml)."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=2)
    description: str = Field(min_length=10)
    where: str = Field(min_length=5)
    keywords: tuple[str, ...] = ()


class Role(_Strict):
    """Someone a question can be routed to (knowledge/roles.yaml)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=2)
    scope: Literal["municipal", "regional"]
    description: str = ""


class Municipality(_Strict):
    """One of Sörmland's municipalities with the places that belong to it."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=2)
    localities: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class GlossaryTerm(_Strict):
    """An abbreviation or everyday word and what it means (knowledge/glossary.yaml)."""

    term: str = Field(min_length=2)
    means: str = Field(min_length=2)
    explain: str = ""


class Glossary(_Strict):
    terms: tuple[GlossaryTerm, ...]


class SmallTalk(_Strict):
    """Greetings, thanks and off-topic cues with Lotsen's replies (knowledge/smalltalk.yaml)."""

    greetings: tuple[str, ...] = Field(min_length=1)
    thanks: tuple[str, ...] = Field(min_length=1)
    offtopic: tuple[str, ...] = Field(min_length=1)
    child_words: tuple[str, ...] = ()  # a message with none of these is not about a particular child
    own_matter: tuple[str, ...] = ()  # the writer's own matter (own health, sick leave, as an employee)
    reply_greeting: str = Field(min_length=5)
    reply_thanks: str = Field(min_length=5)
    reply_decline: str = Field(min_length=5)
    reply_own_matter: str = ""  # the decline for the writer's own matter; reply_decline when empty


class AcuteConcept(_Strict):
    """One kind of acute danger, as word families (knowledge/urgency.yaml `concepts:`).

    `phrases` match in order within one clause ("skär sig", "vill inte leva");
    `pairs` match when a word of the first list and a word of the second stand
    in the same sentence ("blod" … "armen", "ger bort" … "saker").
    """

    id: str = Field(pattern=ID_PATTERN)
    topic: str = Field(pattern=ID_PATTERN)
    danger: Danger
    about: str = Field(min_length=5)
    phrases: tuple[str, ...] = ()
    pairs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()


class Urgency(_Strict):
    """How Lotsen recognises an emergency (knowledge/urgency.yaml)."""

    concepts: tuple[AcuteConcept, ...] = Field(min_length=1)
    negations: tuple[str, ...] = Field(min_length=1)
    # Words that make an acute word in the same sentence not acute now:
    past: tuple[str, ...] = Field(min_length=1)  # it happened before and is handled
    assessed: tuple[str, ...] = Field(min_length=1)  # professionals judged the risk low
    bereavement: tuple[str, ...] = Field(min_length=1)  # someone died: grief, not risk
    general_markers: tuple[str, ...] = Field(min_length=1)  # a question about routines, not a child
    relatives: tuple[str, ...] = ()  # a relative right before a self-harm word: it is about them, not the child
    immediacy: tuple[str, ...] = Field(min_length=1)  # it is happening now: overrides past and general
    ongoing: tuple[str, ...] = ()  # right before a past marker it makes a duration ("sedan förra veckan")
    telling: tuple[str, ...] = ()  # right next to an immediacy word it dates the telling ("berättade idag")
    office_hours: str = Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    emergency_text: str = Field(min_length=10)


class RiskExamples(_Strict):
    """Written exemplars of acute and not-acute messages for the sentence encoder (knowledge/risk.yaml)."""

    acute: dict[Danger, tuple[str, ...]]
    calm: tuple[str, ...] = Field(min_length=10)


class Contact(_Strict):
    """A person or service with a phone number (contacts.yaml)."""

    id: str = Field(default="", pattern=r"^$|" + ID_PATTERN)
    name: str = Field(min_length=2)
    title: str = Field(min_length=2)
    phone: str = Field(min_length=3)
    hours: str = Field(min_length=2)
    fictitious: bool = True
    telegram_chat_id: int | None = None
    note: str = ""
    verified: date | None = None  # the day someone last checked that the contact is right
    owner: str = ""  # key in `owners:`: the process leader who keeps this contact true

    @field_validator("phone")
    @classmethod
    def _phone_shape(cls, value: str) -> str:
        if re.fullmatch(r"\+?[0-9][0-9 \-]{1,18}[0-9]", value):
            return value
        fixed = re.sub(r"[\u2010-\u2015\u2212]", "-", value)
        fixed = re.sub(r"[\u00a0\u2007\u202f\u2009]", " ", fixed)
        if fixed != value and re.fullmatch(r"\+?[0-9][0-9 \-]{1,18}[0-9]", fixed):
            kind = "phone_dash" if re.search(r"[\u2010-\u2015\u2212]", value) else "phone_space"
            raise PydanticCustomError(kind, "phone", {"fixed": fixed})
        raise PydanticCustomError("phone_chars", "phone", {})


class Owner(_Strict):
    """A process leader who keeps some contacts true (contacts.yaml `owners:`)."""

    name: str = Field(min_length=2)
    telegram_user_id: int | None = None  # gets the weekly digest of their own stale contacts


class Contacts(_Strict):
    """The whole contacts.yaml: national numbers, regional services, municipal roles."""

    notice: str = Field(min_length=10)
    owners: dict[str, Owner] = {}
    national: tuple[Contact, ...] = Field(min_length=1)
    regional: dict[str, Contact]
    municipalities: dict[str, dict[str, Contact]]


class Privacy(_Strict):
    """What redaction must leave alone (knowledge/privacy.yaml): capitalised words that are no person here."""

    not_names: tuple[str, ...] = ()  # apps, games, holidays, organisations, brands: "Snapchat", "Ramadan", "BRIS"


class WheelArea(_Strict):
    """One life area of Barnets bästa-hjulet."""

    name: str = Field(min_length=2)
    question: str = Field(min_length=5)
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Wheel(_Strict):
    """Barnets bästa-hjulet as drawn by `/hjulet` (knowledge/hjulet.yaml)."""

    title: str = Field(min_length=2)
    center: str = Field(min_length=2)
    areas: tuple[WheelArea, ...] = Field(min_length=4)


class TopicSteps(_Strict):
    """Short "gör så här" lines for one topic (knowledge/steps.yaml)."""

    mentor: str = Field(default="", max_length=160)
    steps: tuple[str, ...] = Field(min_length=1, max_length=5)

    @field_validator("steps")
    @classmethod
    def _short_lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for line in value:
            if not 5 <= len(line) <= 160:
                raise ValueError("varje rad ska vara 5–160 tecken")
        return value


class EmergencyRoute(_Strict):
    """The emergency route for one kind of danger (knowledge/emergency.yaml)."""

    title: str = Field(min_length=5)
    lines: tuple[str, ...] = Field(min_length=1)
    office: tuple[str, ...] = ()
    after_hours: tuple[str, ...] = ()
    office_roles: tuple[str, ...] = Field(min_length=1)
    after_hours_roles: tuple[str, ...] = Field(min_length=1)
    possible: str = Field(min_length=5)


class EmergencyRoutes(_Strict):
    """The whole knowledge/emergency.yaml: one route per kind of danger."""

    routes: dict[str, EmergencyRoute]
class Learned(_Strict):
    """What the process leaders taught Lotsen from Telegram (knowledge/learned.yaml, see LOTSEN_LEARNED)."""

    phrasings: dict[str, tuple[str, ...]] = {}  # topic id -> extra phrasings
    offtopic: tuple[str, ...] = ()  # extra examples of questions outside Lotsen's area
