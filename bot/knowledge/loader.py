"""Loading the knowledge base (knowledge/) and contacts.yaml.

Process leaders edit these files by hand, so a mistake must come back as
`file:line: what is wrong — how to fix it`, all problems at once, never a
traceback. `load_knowledge` either returns a complete, cross-checked
`KnowledgeBase` or raises `KnowledgeError`; a running bot keeps its last good
knowledge base when a reload fails.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.errors import KnowledgeError, Problem
from bot.knowledge.base import KnowledgeBase, all_contacts
from bot.knowledge.checks import (
    REQUIRED_DANGERS,
    REQUIRED_MATERIALS,
    REQUIRED_MUNICIPALITIES,
    REQUIRED_ROLES,
    REQUIRED_TOPICS,
    Broken,
    check_contacts,
    check_coverage,
    check_required,
    check_topic_references,
)
from bot.knowledge.schema import (
    Contact,
    Contacts,
    EmergencyRoute,
    EmergencyRoutes,
    Glossary,
    Learned,
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
from bot.knowledge.yamlfile import Doc, read_yaml, suggest, validate


def _load_list(
    doc: Doc | None, key: str, model: type[BaseModel], problems: list[Problem], broken: set[str]
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
        obj = validate(model, item, doc, (key, i), problems)
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
    # Absolute paths in every problem, so a message says exactly where Lotsen looked.
    loading = _Loading(Path(knowledge_dir).absolute(), Path(contacts_file).absolute())
    loading.read_files()
    loading.check_taxonomy()
    loading.check_references()
    learned = _read_learned(learned_file or default_learned_file(loading.dir), str, loading.topics, loading.problems)
    if loading.problems:
        raise KnowledgeError(_unique(loading.problems))
    return loading.knowledge_base(learned)


class _Loading:
    """One load of the knowledge base: the files read so far and every problem found in them."""

    def __init__(self, knowledge_dir: Path, contacts_file: Path) -> None:
        self.dir = knowledge_dir
        self.contacts_file = contacts_file
        self.problems: list[Problem] = []
        self.broken = Broken()
        self.parts: dict[str, Any] = {}
        self.docs: dict[str, Doc | None] = {}
        self.lines: dict[str, dict[str, int]] = {}

    @property
    def topics(self) -> dict[str, Topic]:
        return self.parts["topics"]

    def _read(self, name: str, kind: str = "") -> Doc | None:
        path = self.dir / name
        doc = read_yaml(path, str(path), self.problems)
        if doc is None and kind:
            self.broken.unreadable.add(kind)
        return doc

    def read_files(self) -> None:
        """Every file, each validated on its own against its schema."""
        problems, broken = self.problems, self.broken
        self.parts["topics"], self.topic_docs, self.topic_files = _load_topics(self.dir, str, problems, broken)
        lists: tuple[tuple[str, type[BaseModel]], ...] = (("materials", Material), ("roles", Role), ("municipalities", Municipality))
        for kind, model in lists:
            doc = self.docs[kind] = self._read(f"{kind}.yaml", kind)
            self.parts[kind], self.lines[kind] = _load_list(doc, kind, model, problems, getattr(broken, kind))
        singles: tuple[tuple[str, str, type[BaseModel]], ...] = (("glossary", "glossary.yaml", Glossary), ("smalltalk", "smalltalk.yaml", SmallTalk),
                                  ("urgency", "urgency.yaml", Urgency), ("risk", "risk.yaml", RiskExamples),
                                  ("wheel", "hjulet.yaml", Wheel))
        for kind, name, model in singles:
            doc = self.docs[kind] = self._read(name)
            self.parts[kind] = validate(model, doc.data, doc, (), problems) if doc else None
        contacts_doc = self.docs["contacts"] = read_yaml(self.contacts_file, str(self.contacts_file), problems)
        self.parts["contacts"] = _load_contacts(contacts_doc, problems, broken) if contacts_doc else None
        self.parts["steps"] = _load_steps(self._read("steps.yaml"), self.topics, problems)
        privacy_doc = self._read("privacy.yaml") if (self.dir / "privacy.yaml").exists() else None
        self.parts["privacy"] = (validate(Privacy, privacy_doc.data, privacy_doc, (), problems) if privacy_doc else None) or Privacy()
        self.parts["emergency"] = _load_emergency(self._read("emergency.yaml"), self.parts["roles"], problems)

    def check_taxonomy(self) -> None:
        """Every taxonomy id is covered (checked only for files that could be read at all)."""
        where = {kind: f"{self.dir}/{kind}.yaml" if self.docs[kind] is not None else ""
                 for kind in ("materials", "roles", "municipalities")}
        for kind, have, lines, required, place, gone in (
            ("ämnet", self.topics, {}, REQUIRED_TOPICS, f"{self.dir}/topics/{{id}}.yaml" if self.topic_files else "", self.broken.topics),
            ("materialet", self.parts["materials"], self.lines["materials"], REQUIRED_MATERIALS, where["materials"], self.broken.materials),
            ("rollen", self.parts["roles"], self.lines["roles"], REQUIRED_ROLES, where["roles"], self.broken.roles),
            ("kommunen", self.parts["municipalities"], self.lines["municipalities"], REQUIRED_MUNICIPALITIES,
             where["municipalities"], self.broken.municipalities),
        ):
            check_required(kind, have, lines, required, place, gone, self.problems)

    def check_references(self) -> None:
        """Every id a file names exists: topics' roles and materials, concepts' topics, contacts' roles and places."""
        topics, roles, municipalities, broken = self.topics, self.parts["roles"], self.parts["municipalities"], self.broken
        check_topic_references(topics, self.topic_docs, roles, self.parts["materials"], broken, self.problems)
        urgency, urgency_doc = self.parts["urgency"], self.docs["urgency"]
        if urgency is not None and urgency_doc is not None:
            for i, concept in enumerate(urgency.concepts):
                if concept.topic not in topics and concept.topic not in broken.topics:
                    self.problems.append(Problem(urgency_doc.label, urgency_doc.line(("concepts", i, "topic")),
                                                 f'ämnet "{concept.topic}" finns inte', suggest(concept.topic, topics)))
        contacts, contacts_doc = self.parts["contacts"], self.docs["contacts"]
        self.contact_lines: dict[str, int] = {}
        if contacts is not None and contacts_doc is not None:
            if "roles" not in broken.unreadable and "municipalities" not in broken.unreadable:
                check_contacts(contacts, contacts_doc, roles, municipalities, broken, self.problems)
                check_coverage(contacts, contacts_doc, topics, roles, municipalities, broken, self.problems)
            self.contact_lines = _contact_lines(contacts, contacts_doc)

    def knowledge_base(self, learned: Learned) -> KnowledgeBase:
        """The knowledge base, with what the curation loop learned added (only once there are no problems)."""
        p = self.parts
        assert p["glossary"] and p["smalltalk"] and p["urgency"] and p["risk"] and p["wheel"] and p["contacts"]
        topics, smalltalk, added = _merge_learned(p["topics"], p["smalltalk"], learned)
        return KnowledgeBase(
            topics=topics, materials=p["materials"], roles=p["roles"], municipalities=p["municipalities"],
            glossary=p["glossary"], smalltalk=smalltalk, urgency=p["urgency"], risk=p["risk"], wheel=p["wheel"],
            contacts=p["contacts"], source=self.dir, steps=p["steps"], emergency=p["emergency"], privacy=p["privacy"],
            contact_lines=self.contact_lines, learned_texts=added,
        )


def _load_steps(doc: Doc | None, topics: dict[str, Topic], problems: list[Problem]) -> dict[str, TopicSteps]:
    """knowledge/steps.yaml: topic id -> short steps. An id close to an existing topic is taken for a typo;
    other unknown ids wait for their topic to be added."""
    out: dict[str, TopicSteps] = {}
    if doc is None:
        return out
    if not isinstance(doc.data, dict):
        problems.append(Problem(doc.label, 1, "filen ska vara ämnes-id följda av mentor: och steps:", "se exemplet överst i knowledge/steps.yaml"))
        return out
    for tid, item in doc.data.items():
        parsed = validate(TopicSteps, item, doc, (tid,), problems)
        if parsed is None:
            continue
        if tid not in topics and difflib.get_close_matches(str(tid), list(topics), n=1, cutoff=0.8):
            problems.append(Problem(doc.label, doc.line((tid,)), f'ämnet "{tid}" finns inte', suggest(str(tid), topics)))
            continue
        out[str(tid)] = parsed
    return out


def _load_emergency(doc: Doc | None, roles: dict[str, Role], problems: list[Problem]) -> dict[str, EmergencyRoute]:
    """knowledge/emergency.yaml: one route per kind of danger, naming only known roles (or 112)."""
    if doc is None:
        return {}
    parsed = validate(EmergencyRoutes, doc.data, doc, (), problems)
    if parsed is None:
        return {}
    for danger in REQUIRED_DANGERS:
        if danger not in parsed.routes:
            problems.append(Problem(doc.label, doc.line(("routes",)), f'vägen för "{danger}" saknas', f"lägg till {danger}: under routes:"))
    for danger, route in parsed.routes.items():
        if danger not in REQUIRED_DANGERS:
            problems.append(Problem(doc.label, doc.line(("routes", danger)), f'okänt slags fara "{danger}"', suggest(danger, REQUIRED_DANGERS)))
        for key in ("office_roles", "after_hours_roles"):
            for i, role in enumerate(getattr(route, key)):
                if role != "112" and role not in roles:
                    problems.append(Problem(doc.label, doc.line(("routes", danger, key, i)), f'rollen "{role}" finns inte', suggest(role, roles)))
    return dict(parsed.routes)


def _load_topics(
    knowledge_dir: Path, label: Callable[[Path], str], problems: list[Problem], broken: Broken
) -> tuple[dict[str, Topic], dict[str, Doc], list[Path]]:
    """Topics: one file each; a file that fails marks its topic (the file name) as broken."""
    topics: dict[str, Topic] = {}
    topic_docs: dict[str, Doc] = {}
    topic_dir = knowledge_dir / "topics"
    topic_files = sorted(topic_dir.glob("*.yaml")) if topic_dir.is_dir() else []
    if not topic_files:
        problems.append(Problem(label(topic_dir), 1, "inga ämnesfiler hittades", "lägg en fil per ämne i knowledge/topics/<id>.yaml"))
    for path in topic_files:
        doc = read_yaml(path, label(path), problems)
        topic = validate(Topic, doc.data, doc, (), problems) if doc is not None else None
        if topic is None or doc is None:
            broken.topics.add(path.stem)
            continue
        if topic.id != path.stem:
            problems.append(Problem(doc.label, doc.line(("id",)), f'id "{topic.id}" stämmer inte med filnamnet', f'döp om filen till {topic.id}.yaml eller ändra id till "{path.stem}"'))
            broken.topics.update({path.stem, topic.id})
        topics[topic.id] = topic
        topic_docs[topic.id] = doc
    return topics, topic_docs, topic_files


def _load_contacts(doc: Doc, problems: list[Problem], broken: Broken) -> Contacts | None:
    """Validates contacts.yaml one contact at a time, so one bad entry hides no other problem."""
    data = doc.data
    if not isinstance(data, dict):
        problems.append(Problem(doc.label, 1, "förväntade nycklarna notice, national, regional och municipalities", "se exemplet i docs/kurera.md"))
        return None

    def valid(item: Any, loc: tuple[Any, ...], slot: tuple[str, str] | None) -> Contact | None:
        contact = validate(Contact, item, doc, loc, problems)
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
    return validate(Contacts, parsed, doc, (), problems)


def _contact_lines(contacts: Contacts, doc: Doc) -> dict[str, int]:
    return {c.id: doc.line((*loc, "verified")) for loc, c in all_contacts(contacts) if c.id}


def _read_learned(path: Path, label: Callable[[Path], str], topics: dict[str, Topic], problems: list[Problem]) -> Learned:
    """The overlay the Telegram curation loop writes; absent means nothing learned yet."""
    if not path.exists():
        return Learned()
    doc = read_yaml(path, label(path), problems)
    if doc is None:
        return Learned()
    if doc.data is None:
        return Learned()
    learned = validate(Learned, doc.data, doc, (), problems)
    if learned is None:
        return Learned()
    for tid in learned.phrasings:
        if tid not in topics:
            problems.append(Problem(doc.label, doc.line(("phrasings", tid)), f'ämnet "{tid}" finns inte', suggest(tid, topics)))
    return learned


def _merge_learned(topics: dict[str, Topic], smalltalk: SmallTalk,
                   learned: Learned) -> tuple[dict[str, Topic], SmallTalk, frozenset[str]]:
    """Adds the learned phrasings and off-topic examples to the curated ones; also returns the texts it added."""
    merged = dict(topics)
    added: set[str] = set()
    for tid, extra in learned.phrasings.items():
        topic = merged[tid]
        new = tuple(p for p in extra if p not in topic.phrasings)
        if new:
            merged[tid] = topic.model_copy(update={"phrasings": topic.phrasings + new})
            added.update(new)
    offtopic = tuple(o for o in learned.offtopic if o not in smalltalk.offtopic)
    if offtopic:
        smalltalk = smalltalk.model_copy(update={"offtopic": smalltalk.offtopic + offtopic})
        added.update(offtopic)
    return merged, smalltalk, frozenset(added)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
