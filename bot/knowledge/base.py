"""Loading and validating the knowledge base (knowledge/) and contacts.yaml.

Process leaders edit these files by hand, so a mistake must come back as
`file:line: what is wrong — how to fix it`, all problems at once, never a
traceback. `load_knowledge` either returns a complete, cross-checked
`KnowledgeBase` or raises `KnowledgeError`; a running bot keeps its last good
knowledge base when a reload fails.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process

from bot.errors import KnowledgeError, Problem
from bot.knowledge.schema import (
    NATIONAL_NUMBERS,
    Contact,
    Contacts,
    EmergencyRoute,
    EmergencyRoutes,
    Glossary,
    Learned,
    Material,
    Municipality,
    RiskExamples,
    Role,
    SmallTalk,
    Topic,
    TopicSteps,
    Urgency,
    Wheel,
    is_fiction_number,
    phone_digits,
)
from bot.knowledge.validation import schema_problem, yaml_problem
from bot.text.normalize import tokens

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


def _bad_date(node: yaml.Node | None) -> tuple[int, str]:
    """Line and text of the first timestamp scalar that is not a real date."""
    pending = [node] if node is not None else []
    while pending:
        current = pending.pop(0)
        if isinstance(current, yaml.ScalarNode) and current.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.safe_load(current.value)
            except ValueError:
                return current.start_mark.line + 1, current.value
        elif isinstance(current, yaml.MappingNode):
            pending += [n for pair in current.value for n in pair]
        elif isinstance(current, yaml.SequenceNode):
            pending += list(current.value)
    return 1, "?"


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
    except ValueError:
        # A date-shaped value that is no date (2026-13-01): the composed tree says where.
        line, value = _bad_date(yaml.compose(text, Loader=_LineLoader))
        problems.append(Problem(label, line, f'"{value}" är inget giltigt datum', "skriv datumet som ÅÅÅÅ-MM-DD, t.ex. 2026-11-30"))
        return None
    except yaml.YAMLError:
        # The pure-Python loader's messages are the ones bot.knowledge.validation knows how to translate.
        try:
            yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            line, what, fix = yaml_problem(text, exc)
            problems.append(Problem(label, line, what, fix))
        except yaml.YAMLError:
            problems.append(Problem(label, 1, "filen går inte att läsa som YAML", "jämför med exemplen i docs/kurera.md"))
        else:
            problems.append(Problem(label, 1, "filen går inte att läsa som YAML", "jämför med exemplen i docs/kurera.md"))
        return None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    return _Doc(path, label, data, lines)


def _validate(model: type[BaseModel], data: Any, doc: _Doc, prefix: tuple[Any, ...], problems: list[Problem]) -> Any:
    if not isinstance(data, dict):
        what = "posten är tom" if data is None else "förväntade nycklar och värden här"
        problems.append(Problem(doc.label, doc.line(prefix), what, "se exemplen i docs/kurera.md"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [dict(err) for err in exc.errors()]
        for err in _without_misspelt_missing(errors):
            loc = (*prefix, *err["loc"])
            what, fix = schema_problem(err, _fields_at(model, err["loc"]))
            problems.append(Problem(doc.label, doc.line(loc), what, fix))
        return None


def _without_misspelt_missing(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drops "field missing" when an unknown field beside it is that field misspelt ("namn" for "name")."""
    unknown = {(tuple(e["loc"][:-1]), str(e["loc"][-1])) for e in errors if e["type"] == "extra_forbidden" and e["loc"]}
    out = []
    for err in errors:
        if err["type"] == "missing" and err["loc"]:
            parent, name = tuple(err["loc"][:-1]), str(err["loc"][-1])
            near = [u for p, u in unknown if p == parent]
            if difflib.get_close_matches(name, near, n=1, cutoff=0.6):
                continue
        out.append(err)
    return out


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed where an unknown field `loc` was found (for "menade du …?")."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            annotation = current.model_fields[part].annotation if part in current.model_fields else None
            args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
            current = args[0] if args else annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f'menade du "{close[0]}"?' if close else "använd ett id som finns"


# ---------------------------------------------------------------------------
# The knowledge base


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
        for loc, contact in _all_contacts(self.contacts):
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


@dataclass
class _Broken:
    """Ids whose own entry already has a reported problem: references to them are not reported again."""

    topics: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    municipalities: set[str] = field(default_factory=set)
    slots: set[tuple[str, str]] = field(default_factory=set)  # (municipality or "*", role) of a broken contact
    unreadable: set[str] = field(default_factory=set)  # kinds whose whole file could not be read


def _load_list(
    doc: _Doc | None, key: str, model: type[BaseModel], problems: list[Problem], broken: set[str]
) -> tuple[dict[str, Any], dict[str, int]]:
    out: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if doc is None:
        return out, lines
    items = doc.data.get(key) if isinstance(doc.data, dict) else None
    if not isinstance(items, list):
        problems.append(Problem(doc.label, 1, f"filen ska börja med '{key}:' följt av en lista", f"skriv '{key}:' och en rad per post som börjar med '- '"))
        return out, lines
    for i, item in enumerate(items):
        obj = _validate(model, item, doc, (key, i), problems)
        if obj is None:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                broken.update({item["id"], item["id"].strip().lower()})
            continue
        if obj.id in out:
            problems.append(Problem(doc.label, doc.line((key, i)), f'id "{obj.id}" finns två gånger', "ge posten ett eget id eller slå ihop dem"))
        out[obj.id] = obj
        lines[obj.id] = doc.line((key, i, "id"))
    return out, lines


def default_learned_file(knowledge_dir: Path) -> Path:
    """Where the Telegram curation loop keeps what it learned, unless LOTSEN_LEARNED says otherwise."""
    return Path(knowledge_dir) / "learned.yaml"


def load_knowledge(knowledge_dir: Path, contacts_file: Path, learned_file: Path | None = None) -> KnowledgeBase:
    """Loads and cross-checks the knowledge base; raises KnowledgeError listing every problem."""
    problems: list[Problem] = []
    # Absolute paths in every problem, so a message says exactly where Lotsen looked.
    knowledge_dir = Path(knowledge_dir).absolute()
    contacts_file = Path(contacts_file).absolute()
    broken = _Broken()

    def label(path: Path) -> str:
        return str(path)

    def read(name: str, kind: str = "") -> _Doc | None:
        path = knowledge_dir / name
        doc = _read_yaml(path, label(path), problems)
        if doc is None and kind:
            broken.unreadable.add(kind)
        return doc

    topics, topic_docs, topic_files = _load_topics(knowledge_dir, label, problems, broken)
    materials_doc = read("materials.yaml", "materials")
    materials, material_lines = _load_list(materials_doc, "materials", Material, problems, broken.materials)
    roles_doc = read("roles.yaml", "roles")
    roles, role_lines = _load_list(roles_doc, "roles", Role, problems, broken.roles)
    municipalities_doc = read("municipalities.yaml", "municipalities")
    municipalities, municipality_lines = _load_list(municipalities_doc, "municipalities", Municipality, problems, broken.municipalities)

    def single(name: str, model: type[BaseModel]) -> tuple[Any, _Doc | None]:
        doc = read(name)
        return (_validate(model, doc.data, doc, (), problems) if doc else None), doc

    glossary, _ = single("glossary.yaml", Glossary)
    smalltalk, _ = single("smalltalk.yaml", SmallTalk)
    urgency, urgency_doc = single("urgency.yaml", Urgency)
    risk, _ = single("risk.yaml", RiskExamples)
    wheel, _ = single("hjulet.yaml", Wheel)
    contacts_doc = _read_yaml(contacts_file, str(contacts_file), problems)
    contacts = _load_contacts(contacts_doc, problems, broken) if contacts_doc else None
    steps = _load_steps(read("steps.yaml"), topics, problems)
    emergency = _load_emergency(read("emergency.yaml"), roles, problems)

    # Coverage of the taxonomy (only for files that could be read at all).
    for kind, have, lines, required, where, loaded, gone in (
        ("ämnet", topics, {}, REQUIRED_TOPICS, f"{knowledge_dir}/topics/{{id}}.yaml", bool(topic_files), broken.topics),
        ("materialet", materials, material_lines, REQUIRED_MATERIALS, f"{knowledge_dir}/materials.yaml", materials_doc is not None, broken.materials),
        ("rollen", roles, role_lines, REQUIRED_ROLES, f"{knowledge_dir}/roles.yaml", roles_doc is not None, broken.roles),
        ("kommunen", municipalities, municipality_lines, REQUIRED_MUNICIPALITIES, f"{knowledge_dir}/municipalities.yaml", municipalities_doc is not None, broken.municipalities),
    ):
        _check_required(kind, have, lines, required, where if loaded else "", gone, problems)

    _check_topic_references(topics, topic_docs, roles, materials, broken, problems)
    if urgency is not None and urgency_doc is not None:
        for i, concept in enumerate(urgency.concepts):
            if concept.topic not in topics and concept.topic not in broken.topics:
                problems.append(Problem(urgency_doc.label, urgency_doc.line(("concepts", i, "topic")), f'ämnet "{concept.topic}" finns inte', _suggest(concept.topic, topics)))

    contact_lines: dict[str, int] = {}
    if contacts is not None and contacts_doc is not None:
        if "roles" not in broken.unreadable and "municipalities" not in broken.unreadable:
            _check_contacts(contacts, contacts_doc, roles, municipalities, broken, problems)
            _check_coverage(contacts, contacts_doc, topics, roles, municipalities, broken, problems)
        contact_lines = _contact_lines(contacts, contacts_doc)

    learned = _read_learned(learned_file or default_learned_file(knowledge_dir), label, topics, problems)

    if problems:
        raise KnowledgeError(_unique(problems))
    assert glossary and smalltalk and urgency and risk and wheel and contacts
    topics, smalltalk = _merge_learned(topics, smalltalk, learned)
    return KnowledgeBase(
        topics=topics,
        materials=materials,
        roles=roles,
        municipalities=municipalities,
        glossary=glossary,
        smalltalk=smalltalk,
        urgency=urgency,
        risk=risk,
        wheel=wheel,
        contacts=contacts,
        source=knowledge_dir,
        steps=steps,
        emergency=emergency,
        contact_lines=contact_lines,
    )


def _load_steps(doc: _Doc | None, topics: dict[str, Topic], problems: list[Problem]) -> dict[str, TopicSteps]:
    """knowledge/steps.yaml: topic id -> short steps. An id close to an existing topic is taken for a typo;
    other unknown ids wait for their topic to be added."""
    out: dict[str, TopicSteps] = {}
    if doc is None:
        return out
    if not isinstance(doc.data, dict):
        problems.append(Problem(doc.label, 1, "filen ska vara ämnes-id följda av mentor: och steps:", "se exemplet överst i knowledge/steps.yaml"))
        return out
    for tid, item in doc.data.items():
        parsed = _validate(TopicSteps, item, doc, (tid,), problems)
        if parsed is None:
            continue
        if tid not in topics and difflib.get_close_matches(str(tid), list(topics), n=1, cutoff=0.8):
            problems.append(Problem(doc.label, doc.line((tid,)), f'ämnet "{tid}" finns inte', _suggest(str(tid), topics)))
            continue
        out[str(tid)] = parsed
    return out


def _load_emergency(doc: _Doc | None, roles: dict[str, Role], problems: list[Problem]) -> dict[str, EmergencyRoute]:
    """knowledge/emergency.yaml: one route per kind of danger, naming only known roles (or 112)."""
    if doc is None:
        return {}
    parsed = _validate(EmergencyRoutes, doc.data, doc, (), problems)
    if parsed is None:
        return {}
    for danger in REQUIRED_DANGERS:
        if danger not in parsed.routes:
            problems.append(Problem(doc.label, doc.line(("routes",)), f'vägen för "{danger}" saknas', f"lägg till {danger}: under routes:"))
    for danger, route in parsed.routes.items():
        if danger not in REQUIRED_DANGERS:
            problems.append(Problem(doc.label, doc.line(("routes", danger)), f'okänt slags fara "{danger}"', _suggest(danger, REQUIRED_DANGERS)))
        for key in ("office_roles", "after_hours_roles"):
            for i, role in enumerate(getattr(route, key)):
                if role != "112" and role not in roles:
                    problems.append(Problem(doc.label, doc.line(("routes", danger, key, i)), f'rollen "{role}" finns inte', _suggest(role, roles)))
    return dict(parsed.routes)


def _load_topics(
    knowledge_dir: Path, label: Callable[[Path], str], problems: list[Problem], broken: _Broken
) -> tuple[dict[str, Topic], dict[str, _Doc], list[Path]]:
    """Topics: one file each; a file that fails marks its topic (the file name) as broken."""
    topics: dict[str, Topic] = {}
    topic_docs: dict[str, _Doc] = {}
    topic_dir = knowledge_dir / "topics"
    topic_files = sorted(topic_dir.glob("*.yaml")) if topic_dir.is_dir() else []
    if not topic_files:
        problems.append(Problem(label(topic_dir), 1, "inga ämnesfiler hittades", "lägg en fil per ämne i knowledge/topics/<id>.yaml"))
    for path in topic_files:
        doc = _read_yaml(path, label(path), problems)
        topic = _validate(Topic, doc.data, doc, (), problems) if doc is not None else None
        if topic is None or doc is None:
            broken.topics.add(path.stem)
            continue
        if topic.id != path.stem:
            problems.append(Problem(doc.label, doc.line(("id",)), f'id "{topic.id}" stämmer inte med filnamnet', f'döp om filen till {topic.id}.yaml eller ändra id till "{path.stem}"'))
            broken.topics.update({path.stem, topic.id})
        topics[topic.id] = topic
        topic_docs[topic.id] = doc
    return topics, topic_docs, topic_files


def _check_required(
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


def _check_topic_references(
    topics: dict[str, Topic], docs: dict[str, _Doc], roles: dict[str, Role], materials: dict[str, Material], broken: _Broken, problems: list[Problem]
) -> None:
    for tid, topic in topics.items():
        doc = docs[tid]
        for i, role in enumerate(topic.roles):
            if role not in roles and role not in broken.roles and "roles" not in broken.unreadable:
                problems.append(Problem(doc.label, doc.line(("roles", i)), f'rollen "{role}" finns inte', _suggest(role, roles)))
        for i, mat in enumerate(topic.materials):
            if mat not in materials and mat not in broken.materials and "materials" not in broken.unreadable:
                problems.append(Problem(doc.label, doc.line(("materials", i)), f'materialet "{mat}" finns inte', _suggest(mat, materials)))


def _load_contacts(doc: _Doc, problems: list[Problem], broken: _Broken) -> Contacts | None:
    """Validates contacts.yaml one contact at a time, so one bad entry hides no other problem."""
    data = doc.data
    if not isinstance(data, dict):
        problems.append(Problem(doc.label, 1, "förväntade nycklarna notice, national, regional och municipalities", "se exemplet i docs/kurera.md"))
        return None

    def valid(item: Any, loc: tuple[Any, ...], slot: tuple[str, str] | None) -> Contact | None:
        contact = _validate(Contact, item, doc, loc, problems)
        if contact is None and slot is not None:
            broken.slots.add(slot)
        return contact

    parsed = dict(data)
    national = data.get("national")
    if isinstance(national, list):
        parsed["national"] = [c for i, item in enumerate(national) if (c := valid(item, ("national", i), None))]
    regional = data.get("regional")
    if isinstance(regional, dict):
        parsed["regional"] = {role: c for role, item in regional.items() if (c := valid(item, ("regional", role), ("*", str(role))))}
    municipalities = data.get("municipalities")
    if isinstance(municipalities, dict):
        parsed["municipalities"] = {
            mid: {role: c for role, item in by_role.items() if (c := valid(item, ("municipalities", mid, role), (str(mid), str(role))))}
            if isinstance(by_role, dict)
            else by_role
            for mid, by_role in municipalities.items()
        }
    return _validate(Contacts, parsed, doc, (), problems)


def _contact(contacts: Contacts, role: str, municipality: str) -> Contact | None:
    return contacts.municipalities.get(municipality, {}).get(role) or contacts.regional.get(role)


def _all_contacts(contacts: Contacts) -> list[tuple[tuple[Any, ...], Contact]]:
    """Every contact with its path in contacts.yaml, in file order."""
    out: list[tuple[tuple[Any, ...], Contact]] = [(("national", i), c) for i, c in enumerate(contacts.national)]
    out += [(("regional", role), c) for role, c in contacts.regional.items()]
    out += [(("municipalities", mid, role), c) for mid, by_role in contacts.municipalities.items() for role, c in by_role.items()]
    return out


def _contact_lines(contacts: Contacts, doc: _Doc) -> dict[str, int]:
    return {c.id: doc.line((*loc, "verified")) for loc, c in _all_contacts(contacts) if c.id}


FICTION_RANGES_TEXT = "070-174 06 05 – 070-174 06 99 eller 08-465 004 00 – 08-465 004 99"


def _check_contact(contact: Contact, loc: tuple[Any, ...], doc: _Doc, owners: dict[str, Any], problems: list[Problem]) -> None:
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
        problems.append(Problem(doc.label, doc.line((*loc, "owner")), f'ägaren "{contact.owner}" finns inte under owners:', _suggest(contact.owner, owners)))


def _check_contacts(
    contacts: Contacts, doc: _Doc, roles: dict[str, Role], municipalities: dict[str, Municipality], broken: _Broken, problems: list[Problem]
) -> None:
    seen_ids: set[str] = set()
    seen_phones: set[str] = set()

    def unknown(kind: str, value: str, known: dict[str, Any], gone: set[str], loc: tuple[Any, ...]) -> str | None:
        if value in known or value in gone:
            return None
        problems.append(Problem(doc.label, doc.line(loc), f'{kind} "{value}" finns inte', _suggest(value, known)))
        close = difflib.get_close_matches(value, list(known), n=1)
        return close[0] if close else None

    for loc, contact in _all_contacts(contacts):
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


def _check_coverage(
    contacts: Contacts, doc: _Doc, topics: dict[str, Topic], roles: dict[str, Role], municipalities: dict[str, Municipality], broken: _Broken, problems: list[Problem]
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


def _read_learned(path: Path, label: Callable[[Path], str], topics: dict[str, Topic], problems: list[Problem]) -> Learned:
    """The overlay the Telegram curation loop writes; absent means nothing learned yet."""
    if not path.exists():
        return Learned()
    doc = _read_yaml(path, label(path), problems)
    if doc is None:
        return Learned()
    if doc.data is None:
        return Learned()
    learned = _validate(Learned, doc.data, doc, (), problems)
    if learned is None:
        return Learned()
    for tid in learned.phrasings:
        if tid not in topics:
            problems.append(Problem(doc.label, doc.line(("phrasings", tid)), f'ämnet "{tid}" finns inte', _suggest(tid, topics)))
    return learned


def _merge_learned(topics: dict[str, Topic], smalltalk: SmallTalk, learned: Learned) -> tuple[dict[str, Topic], SmallTalk]:
    """Adds the learned phrasings and off-topic examples to the curated ones."""
    merged = dict(topics)
    for tid, extra in learned.phrasings.items():
        topic = merged[tid]
        new = tuple(p for p in extra if p not in topic.phrasings)
        if new:
            merged[tid] = topic.model_copy(update={"phrasings": topic.phrasings + new})
    offtopic = tuple(o for o in learned.offtopic if o not in smalltalk.offtopic)
    if offtopic:
        smalltalk = smalltalk.model_copy(update={"offtopic": smalltalk.offtopic + offtopic})
    return merged, smalltalk


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
