"""Loading and validating the knowledge base (knowledge/) and contacts.yaml.

Process leaders edit these files by hand, so a mistake must come back as
`file:line: what is wrong — how to fix it`, all problems at once, never a
traceback. `load_knowledge` either returns a complete, cross-checked
`KnowledgeBase` or raises `KnowledgeError`; a running bot keeps its last good
knowledge base when a reload fails.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process

from bot.errors import KnowledgeError, Problem
from bot.normalize import tokens
from bot.schema import (
    NATIONAL_NUMBERS,
    Contact,
    Contacts,
    Glossary,
    Material,
    Municipality,
    Role,
    SmallTalk,
    Topic,
    Urgency,
    Wheel,
    is_fiction_number,
    phone_digits,
)

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
)  # fmt: skip
REQUIRED_MATERIALS = (
    "hjulet", "hjulet-ofargat", "hjulet-stodmaterial", "case-alina-axel-amir", "case-ella",
    "sip-guide", "forstarkt-eht", "cps", "kontaktgrupper", "familjecentral-0-18", "anmalningsplikt",
)  # fmt: skip


# ---------------------------------------------------------------------------
# YAML with line numbers


# libyaml's C loader when present (ten times faster); both keep node positions.
_LineLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_lines(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _compose_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _compose_lines(item, (*path, i), lines)


@dataclass
class _Doc:
    """One parsed YAML file: its data and the line of every path inside it."""

    path: Path
    label: str
    data: Any
    lines: dict[tuple[Any, ...], int]

    def line(self, loc: Iterable[Any]) -> int:
        loc = tuple(loc)
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)


def _read_yaml(path: Path, label: str, problems: list[Problem]) -> _Doc | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(label, 1, "filen saknas", f"skapa {label} eller peka ut rätt katalog med LOTSEN_KNOWLEDGE/LOTSEN_CONTACTS"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(label, 1, f"filen är inte UTF-8 ({exc.reason})", "spara filen som UTF-8"))
        return None
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = f"YAML-fel: {exc.problem or exc.context}"
        problems.append(
            Problem(label, line, what, "kontrollera indraget, att varje nyckel följs av kolon och att citattecken är parade")
        )
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(label, 1, f"YAML-fel: {exc}", "kontrollera filens syntax"))
        return None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    return _Doc(path, label, data, lines)


_FIX_BY_TYPE = {
    "missing": "lägg till fältet",
    "extra_forbidden": "ta bort fältet eller stava det som i docs/kurera.md",
    "string_too_short": "skriv en längre text",
    "too_short": "lägg till fler rader",
    "string_pattern_mismatch": "använd bara små bokstäver a–z, siffror och bindestreck (t.ex. oro-hemmet)",
    "bool_parsing": "skriv true eller false",
    "int_parsing": "skriv ett heltal",
    "string_type": "skriv texten inom citattecken",
    "literal_error": "välj ett av de tillåtna värdena",
}


def _validate(model: type[BaseModel], data: Any, doc: _Doc, prefix: tuple[Any, ...], problems: list[Problem]) -> Any:
    if not isinstance(data, dict):
        problems.append(Problem(doc.label, doc.line(prefix), "förväntade nycklar och värden här", "se exemplen i docs/kurera.md"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = (*prefix, *err["loc"])
            field = ".".join(str(p) for p in err["loc"]) or "filen"
            fix = _FIX_BY_TYPE.get(err["type"], "rätta värdet")
            problems.append(Problem(doc.label, doc.line(loc), f"{field}: {err['msg']}", fix))
        return None


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f'menade du "{close[0]}"?' if close else "använd ett id som finns"


# ---------------------------------------------------------------------------
# The knowledge base


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
    wheel: Wheel
    contacts: Contacts
    source: Path

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

    def municipality_name(self, municipality: str | None) -> str:
        if municipality is None:
            return "okänd kommun"
        m = self.municipalities.get(municipality)
        return m.name if m else municipality


def _load_list(doc: _Doc | None, key: str, model: type[BaseModel], problems: list[Problem]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if doc is None:
        return out
    items = doc.data.get(key) if isinstance(doc.data, dict) else None
    if not isinstance(items, list):
        problems.append(Problem(doc.label, 1, f"filen ska börja med '{key}:' följt av en lista", f"skriv '{key}:' och en rad per post som börjar med '- '"))
        return out
    for i, item in enumerate(items):
        obj = _validate(model, item, doc, (key, i), problems)
        if obj is None:
            continue
        if obj.id in out:
            problems.append(Problem(doc.label, doc.line((key, i)), f'id "{obj.id}" finns två gånger', "ge posten ett eget id eller slå ihop dem"))
        out[obj.id] = obj
    return out


def load_knowledge(knowledge_dir: Path, contacts_file: Path) -> KnowledgeBase:
    """Loads and cross-checks the knowledge base; raises KnowledgeError listing every problem."""
    problems: list[Problem] = []
    # Absolute paths in every problem, so a message says exactly where Lotsen looked.
    knowledge_dir = Path(knowledge_dir).absolute()
    contacts_file = Path(contacts_file).absolute()

    def label(path: Path) -> str:
        return str(path)

    def read(name: str) -> _Doc | None:
        path = knowledge_dir / name
        return _read_yaml(path, label(path), problems)

    # Topics: one file each.
    topics: dict[str, Topic] = {}
    topic_docs: dict[str, _Doc] = {}
    topic_dir = knowledge_dir / "topics"
    topic_files = sorted(topic_dir.glob("*.yaml")) if topic_dir.is_dir() else []
    if not topic_files:
        problems.append(Problem(label(topic_dir), 1, "inga ämnesfiler hittades", f"lägg en fil per ämne i {topic_dir}/<id>.yaml"))
    for path in topic_files:
        doc = _read_yaml(path, label(path), problems)
        if doc is None:
            continue
        topic = _validate(Topic, doc.data, doc, (), problems)
        if topic is None:
            continue
        if topic.id != path.stem:
            problems.append(Problem(doc.label, doc.line(("id",)), f'id "{topic.id}" stämmer inte med filnamnet', f'döp om filen till {topic.id}.yaml eller ändra id till "{path.stem}"'))
        topics[topic.id] = topic
        topic_docs[topic.id] = doc

    materials_doc = read("materials.yaml")
    materials = _load_list(materials_doc, "materials", Material, problems)
    roles_doc = read("roles.yaml")
    roles = _load_list(roles_doc, "roles", Role, problems)
    municipalities_doc = read("municipalities.yaml")
    municipalities = _load_list(municipalities_doc, "municipalities", Municipality, problems)

    def single(name: str, model: type[BaseModel]) -> tuple[Any, _Doc | None]:
        doc = read(name)
        return (_validate(model, doc.data, doc, (), problems) if doc else None), doc

    glossary, _ = single("glossary.yaml", Glossary)
    smalltalk, _ = single("smalltalk.yaml", SmallTalk)
    urgency, urgency_doc = single("urgency.yaml", Urgency)
    wheel, _ = single("hjulet.yaml", Wheel)
    contacts_doc = _read_yaml(contacts_file, str(contacts_file), problems)
    contacts = _load_contacts(contacts_doc, problems) if contacts_doc else None

    # Coverage of the taxonomy (only for files that could be read at all).
    for kind, have, required, where, loaded in (
        ("ämnet", topics, REQUIRED_TOPICS, f"{knowledge_dir}/topics/{{id}}.yaml", bool(topic_files)),
        ("materialet", materials, REQUIRED_MATERIALS, f"{knowledge_dir}/materials.yaml", materials_doc is not None),
        ("rollen", roles, REQUIRED_ROLES, f"{knowledge_dir}/roles.yaml", roles_doc is not None),
        ("kommunen", municipalities, REQUIRED_MUNICIPALITIES, f"{knowledge_dir}/municipalities.yaml", municipalities_doc is not None),
    ):
        for rid in required if loaded else ():
            # A topic whose own file is broken has already been reported.
            if rid not in have and not (kind == "ämnet" and (topic_dir / f"{rid}.yaml").exists()):
                problems.append(Problem(where.format(id=rid), 1, f'{kind} "{rid}" ur taxonomin saknas', f"lägg till {kind} med exakt id {rid}"))

    # Cross-references from topics.
    for tid, topic in topics.items():
        doc = topic_docs[tid]
        for i, role in enumerate(topic.roles):
            if role not in roles:
                problems.append(Problem(doc.label, doc.line(("roles", i)), f'rollen "{role}" finns inte', _suggest(role, roles)))
            elif contacts is not None:
                missing = [m for m in municipalities if _contact(contacts, role, m) is None]
                if missing:
                    problems.append(Problem(doc.label, doc.line(("roles", i)), f'rollen "{role}" har ingen kontakt i {", ".join(missing)}', f"lägg till {role} under kommunen i contacts.yaml eller under regional:"))
        for i, mat in enumerate(topic.materials):
            if mat not in materials:
                problems.append(Problem(doc.label, doc.line(("materials", i)), f'materialet "{mat}" finns inte', _suggest(mat, materials)))

    if urgency is not None and urgency_doc is not None:
        for i, signal in enumerate(urgency.signals):
            if signal.topic not in topics:
                problems.append(Problem(urgency_doc.label, urgency_doc.line(("signals", i)), f'ämnet "{signal.topic}" finns inte', _suggest(signal.topic, topics)))

    if contacts is not None and contacts_doc is not None:
        _check_contacts(contacts, contacts_doc, roles, municipalities, problems)

    if problems:
        raise KnowledgeError(_unique(problems))
    assert glossary and smalltalk and urgency and wheel and contacts
    return KnowledgeBase(
        topics=topics,
        materials=materials,
        roles=roles,
        municipalities=municipalities,
        glossary=glossary,
        smalltalk=smalltalk,
        urgency=urgency,
        wheel=wheel,
        contacts=contacts,
        source=knowledge_dir,
    )


def _load_contacts(doc: _Doc, problems: list[Problem]) -> Contacts | None:
    """Validates contacts.yaml one contact at a time, so one bad entry hides no other problem."""
    data = doc.data
    if not isinstance(data, dict):
        problems.append(Problem(doc.label, 1, "förväntade nycklarna notice, national, regional och municipalities", "se exemplet i docs/kurera.md"))
        return None
    parsed = dict(data)
    national = data.get("national")
    if isinstance(national, list):
        parsed["national"] = [c for i, item in enumerate(national) if (c := _validate(Contact, item, doc, ("national", i), problems))]
    regional = data.get("regional")
    if isinstance(regional, dict):
        parsed["regional"] = {role: c for role, item in regional.items() if (c := _validate(Contact, item, doc, ("regional", role), problems))}
    municipalities = data.get("municipalities")
    if isinstance(municipalities, dict):
        parsed["municipalities"] = {
            mid: {role: c for role, item in by_role.items() if (c := _validate(Contact, item, doc, ("municipalities", mid, role), problems))}
            if isinstance(by_role, dict)
            else by_role
            for mid, by_role in municipalities.items()
        }
    return _validate(Contacts, parsed, doc, (), problems)


def _contact(contacts: Contacts, role: str, municipality: str) -> Contact | None:
    return contacts.municipalities.get(municipality, {}).get(role) or contacts.regional.get(role)


def _check_contacts(contacts: Contacts, doc: _Doc, roles: dict[str, Role], municipalities: dict[str, Municipality], problems: list[Problem]) -> None:
    seen_ids: dict[str, tuple[Any, ...]] = {}
    seen_phones: dict[str, tuple[Any, ...]] = {}

    def check(contact: Contact, loc: tuple[Any, ...]) -> None:
        if contact.id:
            if contact.id in seen_ids:
                problems.append(Problem(doc.label, doc.line((*loc, "id")), f'kontakt-id "{contact.id}" används två gånger', "ge varje kontakt ett eget id"))
            seen_ids[contact.id] = loc
        digits = phone_digits(contact.phone)
        if contact.fictitious and not is_fiction_number(contact.phone):
            problems.append(Problem(doc.label, doc.line((*loc, "phone")), f'det fiktiva numret "{contact.phone}" ligger utanför PTS:s nummerserier för fiktion', "använd 070-174 06 05 – 070-174 06 99 eller 08-465 004 00 – 08-465 004 99, eller sätt fictitious: false för ett riktigt nummer"))
        if not contact.fictitious and digits not in NATIONAL_NUMBERS and not (digits.startswith("0") and 8 <= len(digits) <= 10):
            problems.append(Problem(doc.label, doc.line((*loc, "phone")), f'"{contact.phone}" ser inte ut som ett svenskt telefonnummer', "skriv riktnummer och nummer, t.ex. 016-710 00 00"))
        if contact.fictitious and digits in seen_phones:
            problems.append(Problem(doc.label, doc.line((*loc, "phone")), f'numret "{contact.phone}" används redan', "ge varje fiktiv kontakt ett eget nummer ur PTS-serien"))
        seen_phones.setdefault(digits, loc)

    for i, c in enumerate(contacts.national):
        check(c, ("national", i))
    for role, c in contacts.regional.items():
        if role not in roles:
            problems.append(Problem(doc.label, doc.line(("regional", role)), f'rollen "{role}" finns inte', _suggest(role, roles)))
        check(c, ("regional", role))
    for mid, by_role in contacts.municipalities.items():
        if mid not in municipalities:
            problems.append(Problem(doc.label, doc.line(("municipalities", mid)), f'kommunen "{mid}" finns inte', _suggest(mid, municipalities)))
        for role, c in by_role.items():
            if role not in roles:
                problems.append(Problem(doc.label, doc.line(("municipalities", mid, role)), f'rollen "{role}" finns inte', _suggest(role, roles)))
            check(c, ("municipalities", mid, role))
    for mid in municipalities:
        for role in ("bup-kontakt", "socialtjanst-mottagning"):
            if _contact(contacts, role, mid) is None:
                problems.append(Problem(doc.label, doc.line(("municipalities",)), f"{mid} saknar {role}", f"lägg till {role} under municipalities: {mid}:"))


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out

