"""Cross-checks of the knowledge base: the taxonomy covered, every reference known, every contact valid and every
municipality reached.

Each check appends `Problem`s (file, line, what, how to fix); nothing raises here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Problem
from bot.knowledge.base import all_contacts
from bot.knowledge.schema import (
    NATIONAL_NUMBERS,
    Contact,
    Contacts,
    Material,
    Municipality,
    Role,
    Topic,
    is_fiction_number,
    phone_digits,
)
from bot.knowledge.yamlfile import Doc, suggest

# The ids that every deployment must cover (../shared/spec/taxonomy.yaml). The
# knowledge base may add more; it may not drop or respell these.
REQUIRED_MUNICIPALITIES = (
    "eskilstuna", "flen", "gnesta", "katrineholm", "nykoping",
    "oxelosund", "strangnas", "trosa", "vingaker",
)  # fmt: skip


REQUIRED_ROLES = (
    "bup-kontakt", "bup-akut", "socialtjanst-mottagning", "socialtjanst-skola", "socialjour",
    "elevhalsa", "samtalsmottagning", "ungdomsmottagning", "familjecentral", "habilitering",
    "barnahus", "polis", "processledare",
)  # fmt: skip


REQUIRED_TOPICS = (
    "npf", "skolfranvaro", "oro-hemmet", "sjalvmord-sjalvskada", "psykisk-ohalsa",
    "funktionsnedsattning", "sip", "foraldraskapsstod", "vald-overgrepp", "missbruk",
    "kriminalitet", "kamrater-ensamhet", "barnets-basta-hjulet", "samverkan-konsultation", "smabarn",
    "sorg-kris",
)  # fmt: skip


REQUIRED_MATERIALS = (
    "hjulet", "hjulet-ofargat", "hjulet-stodmaterial", "case-alina-axel-amir", "case-ella",
    "sip-guide", "forstarkt-eht", "cps", "kontaktgrupper", "familjecentral-0-18", "anmalningsplikt",
)  # fmt: skip


# The kinds of danger (bot.core.answer.Danger values) that knowledge/emergency.yaml must give a route for.
REQUIRED_DANGERS = ("self-harm", "violence", "unsafe-home")


@dataclass
class Broken:
    """Ids whose own entry already has a reported problem: references to them are not reported again."""

    topics: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    municipalities: set[str] = field(default_factory=set)
    slots: set[tuple[str, str]] = field(default_factory=set)  # (municipality or "*", role) of a broken contact
    unreadable: set[str] = field(default_factory=set)  # kinds whose whole file could not be read


def check_required(
    kind: str, have: dict[str, Any], lines: dict[str, int], required: Iterable[str], where: str, gone: set[str], problems: list[Problem]
) -> None:
    """Every taxonomy id is present; a near miss is reported once as a misspelling at its own line."""
    if not where:
        return
    extra = [i for i in have if i not in required]
    for rid in required:
        if rid in have or rid in gone:
            continue
        close = difflib.get_close_matches(rid, extra, n=1, cutoff=0.75)
        if close and close[0] in lines:
            problems.append(Problem(where, lines[close[0]], f'{kind} "{close[0]}" är felstavat', f'id ska vara exakt "{rid}" (som i taxonomin)'))
            gone.update({rid, close[0]})
            extra.remove(close[0])
        else:
            problems.append(Problem(where.format(id=rid), 1, f'{kind} "{rid}" ur taxonomin saknas', f"lägg till {kind} med exakt id {rid}"))


def check_topic_references(
    topics: dict[str, Topic], docs: dict[str, Doc], roles: dict[str, Role], materials: dict[str, Material], broken: Broken, problems: list[Problem]
) -> None:
    for tid, topic in topics.items():
        doc = docs[tid]
        for i, role in enumerate(topic.roles):
            if role not in roles and role not in broken.roles and "roles" not in broken.unreadable:
                problems.append(Problem(doc.label, doc.line(("roles", i)), f'rollen "{role}" finns inte', suggest(role, roles)))
        for i, mat in enumerate(topic.materials):
            if mat not in materials and mat not in broken.materials and "materials" not in broken.unreadable:
                problems.append(Problem(doc.label, doc.line(("materials", i)), f'materialet "{mat}" finns inte', suggest(mat, materials)))


def _contact(contacts: Contacts, role: str, municipality: str) -> Contact | None:
    return contacts.municipalities.get(municipality, {}).get(role) or contacts.regional.get(role)


FICTION_RANGES_TEXT = "070-174 06 05 – 070-174 06 99 eller 08-465 004 00 – 08-465 004 99"


def _check_contact(contact: Contact, loc: tuple[Any, ...], doc: Doc, owners: dict[str, Any], problems: list[Problem]) -> None:
    """The rules for one contact's number and owner."""
    line = doc.line((*loc, "phone"))
    digits = phone_digits(contact.phone)
    if contact.fictitious and not is_fiction_number(contact.phone):
        problems.append(Problem(doc.label, line, f'det fiktiva numret "{contact.phone}" ligger utanför PTS:s nummerserier för fiktion', f"använd {FICTION_RANGES_TEXT}, eller sätt fictitious: false för ett riktigt nummer"))
    if not contact.fictitious and is_fiction_number(contact.phone):
        problems.append(Problem(doc.label, line, f'kontakten har fictitious: false men numret "{contact.phone}" är ett påhittat PTS-nummer', "skriv den riktiga personens nummer, eller sätt fictitious: true så länge kontakten är ett exempel"))
    if not contact.fictitious and digits not in NATIONAL_NUMBERS and not (digits.startswith("0") and 8 <= len(digits) <= 10):
        problems.append(Problem(doc.label, line, f'"{contact.phone}" ser inte ut som ett svenskt telefonnummer', "skriv riktnummer och nummer, t.ex. 016-710 00 00"))
    if contact.owner and contact.owner not in owners:
        problems.append(Problem(doc.label, doc.line((*loc, "owner")), f'ägaren "{contact.owner}" finns inte under owners:', suggest(contact.owner, owners)))


def check_contacts(
    contacts: Contacts, doc: Doc, roles: dict[str, Role], municipalities: dict[str, Municipality], broken: Broken, problems: list[Problem]
) -> None:
    seen_ids: set[str] = set()
    seen_phones: set[str] = set()

    def unknown(kind: str, value: str, known: dict[str, Any], gone: set[str], loc: tuple[Any, ...]) -> str | None:
        if value in known or value in gone:
            return None
        problems.append(Problem(doc.label, doc.line(loc), f'{kind} "{value}" finns inte', suggest(value, known)))
        close = difflib.get_close_matches(value, list(known), n=1)
        return close[0] if close else None

    for loc, contact in all_contacts(contacts):
        if loc[0] == "regional" and (meant := unknown("rollen", loc[1], roles, broken.roles, loc)):
            broken.slots.add(("*", meant))
        if loc[0] == "municipalities" and (meant := unknown("rollen", loc[2], roles, broken.roles, loc)):
            broken.slots.add((loc[1], meant))
        if contact.id:
            if contact.id in seen_ids:
                problems.append(Problem(doc.label, doc.line((*loc, "id")), f'kontakt-id "{contact.id}" används två gånger', "ge varje kontakt ett eget id"))
            seen_ids.add(contact.id)
        _check_contact(contact, loc, doc, contacts.owners, problems)
        digits = phone_digits(contact.phone)
        if contact.fictitious and digits in seen_phones:
            problems.append(Problem(doc.label, doc.line((*loc, "phone")), f'numret "{contact.phone}" används redan', "ge varje fiktiv kontakt ett eget nummer ur PTS-serien"))
        seen_phones.add(digits)
    for mid in contacts.municipalities:
        if meant := unknown("kommunen", mid, municipalities, broken.municipalities, ("municipalities", mid)):
            broken.municipalities.add(meant)


# Roles every municipality must reach, whether or not a topic names them.
ALWAYS_NEEDED_ROLES = ("bup-kontakt", "socialtjanst-mottagning")


def check_coverage(
    contacts: Contacts, doc: Doc, topics: dict[str, Topic], roles: dict[str, Role], municipalities: dict[str, Municipality], broken: Broken, problems: list[Problem]
) -> None:
    """Each role a topic names has a contact in every municipality: one line per role, not per topic."""
    needed: dict[str, list[str]] = {role: [] for role in ALWAYS_NEEDED_ROLES if role in roles}
    for tid, topic in topics.items():
        for role in topic.roles:
            if role in roles:
                needed.setdefault(role, []).append(tid)
    for role, users in needed.items():
        if ("*", role) in broken.slots:
            continue
        missing = [
            m for m in municipalities
            if m not in broken.municipalities and (m, role) not in broken.slots and _contact(contacts, role, m) is None
        ]
        if not missing:
            continue
        where = ("municipalities", missing[0]) if len(missing) == 1 else ("municipalities",)
        used = f" (ämnena {', '.join(users)} hänvisar dit)" if users else ""
        problems.append(Problem(doc.label, doc.line(where), f'rollen "{role}" har ingen kontakt i {", ".join(missing)}{used}', f"lägg till {role}: under kommunen i contacts.yaml eller under regional:"))
