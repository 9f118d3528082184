"""The shipped knowledge base is valid, and a broken edit is reported as file:line with a fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.errors import KnowledgeError
from bot.knowledge.checks import REQUIRED_MATERIALS, REQUIRED_MUNICIPALITIES, REQUIRED_ROLES, REQUIRED_TOPICS
from bot.knowledge.loader import load_knowledge
from bot.knowledge.schema import is_fiction_number

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kb_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A writable copy of the shipped knowledge base and contacts.yaml."""
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copy(ROOT / "contacts.yaml", tmp_path / "contacts.yaml")
    return tmp_path / "knowledge", tmp_path / "contacts.yaml"


def problems_of(knowledge: Path, contacts: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(knowledge, contacts)
    return [str(p) for p in info.value.problems]


def test_shipped_knowledge_base_covers_the_taxonomy(kb):
    assert set(REQUIRED_TOPICS) <= set(kb.topics)
    assert set(REQUIRED_MATERIALS) <= set(kb.materials)
    assert set(REQUIRED_ROLES) <= set(kb.roles)
    assert set(REQUIRED_MUNICIPALITIES) <= set(kb.municipalities)


def test_every_municipality_has_its_own_bup_contact_and_social_services(kb):
    for municipality in REQUIRED_MUNICIPALITIES:
        local = kb.contacts.municipalities[municipality]
        assert "bup-kontakt" in local and "socialtjanst-mottagning" in local


def test_fictitious_contacts_use_pts_fiction_numbers_and_national_numbers_are_real(kb):
    people = [c for by_role in kb.contacts.municipalities.values() for c in by_role.values()]
    people += list(kb.contacts.regional.values())
    for contact in people:
        if contact.fictitious:
            assert is_fiction_number(contact.phone), contact
    national = {c.phone.replace(" ", "") for c in kb.contacts.national}
    assert {"112", "1177", "11414", "116111"} <= national


def test_a_yaml_syntax_error_names_file_and_line(kb_copy):
    knowledge, contacts = kb_copy
    path = knowledge / "topics" / "npf.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "keywords: [adhd, autism")  # an unclosed list on line 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = problems_of(knowledge, contacts)
    assert len(problems) == 1
    assert problems[0] == (
        f"{knowledge}/topics/npf.yaml:4: listan inom hakparentes avslutas inte rätt — "
        "sätt komma mellan värdena och ] sist, t.ex. [adhd, autism]"
    )


def test_an_unknown_role_is_reported_on_its_line_with_a_suggestion(kb_copy):
    knowledge, contacts = kb_copy
    path = knowledge / "topics" / "npf.yaml"
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["roles"][0] = "bup-kontak"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "bup-kontak" in row)
    problems = problems_of(knowledge, contacts)
    assert f'{knowledge}/topics/npf.yaml:{line}: rollen "bup-kontak" finns inte — menade du "bup-kontakt"?' in problems


def test_every_problem_is_reported_at_once(kb_copy):
    knowledge, contacts = kb_copy
    materials = knowledge / "materials.yaml"
    data = yaml.safe_load(materials.read_text(encoding="utf-8"))
    data["materials"][0].pop("title")
    materials.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    topic = knowledge / "topics" / "sip.yaml"
    tdata = yaml.safe_load(topic.read_text(encoding="utf-8"))
    tdata["materials"] = ["sip-guiden"]
    topic.write_text(yaml.safe_dump(tdata, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = problems_of(knowledge, contacts)
    assert any(p.startswith(f"{knowledge}/materials.yaml:") and "title" in p for p in problems)
    assert any(p.startswith(f"{knowledge}/topics/sip.yaml:") and "sip-guiden" in p for p in problems)


def test_a_malformed_or_real_looking_fictitious_number_is_refused(kb_copy):
    knowledge, contacts = kb_copy
    data = yaml.safe_load(contacts.read_text(encoding="utf-8"))
    flen = data["municipalities"]["flen"]
    flen["bup-kontakt"]["phone"] = "0157-123 45"  # a real Flen area code, not a fiction range
    flen["elevhalsa"]["phone"] = "ring växeln"
    contacts.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = problems_of(knowledge, contacts)
    assert any(f"{contacts}:" in p and "PTS" in p for p in problems)
    assert any(f"{contacts}:" in p and "telefonnumret \"ring växeln\"" in p for p in problems)


def test_a_topic_role_without_contact_in_some_municipality_is_reported(kb_copy):
    knowledge, contacts = kb_copy
    data = yaml.safe_load(contacts.read_text(encoding="utf-8"))
    del data["municipalities"]["trosa"]["socialtjanst-skola"]
    contacts.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = problems_of(knowledge, contacts)
    assert any('"socialtjanst-skola" har ingen kontakt i trosa' in p for p in problems)


def test_a_missing_file_says_which_and_how_to_fix(kb_copy):
    knowledge, contacts = kb_copy
    (knowledge / "glossary.yaml").unlink()
    problems = problems_of(knowledge, contacts)
    glossary = knowledge / "glossary.yaml"
    assert problems == [f"{glossary}:1: filen saknas — skapa {glossary} eller peka ut rätt katalog med LOTSEN_KNOWLEDGE/LOTSEN_CONTACTS"]
    assert glossary.is_absolute()


def test_steps_and_emergency_files_report_problems_as_file_and_line(kb_copy):
    knowledge, contacts = kb_copy
    steps = knowledge / "steps.yaml"
    steps.write_text(steps.read_text(encoding="utf-8").replace("skolfranvaro:", "skolfranvar:", 1), encoding="utf-8")
    emergency = knowledge / "emergency.yaml"
    text = emergency.read_text(encoding="utf-8").replace('office_roles: ["112", bup-akut]', 'office_roles: ["112", bup-akutt]', 1)
    emergency.write_text(text, encoding="utf-8")
    problems = problems_of(knowledge, contacts)
    assert any(p.startswith(f"{knowledge}/steps.yaml:") and "skolfranvar" in p and 'menade du "skolfranvaro"' in p for p in problems)
    assert any(p.startswith(f"{knowledge}/emergency.yaml:") and "bup-akutt" in p for p in problems)



def test_the_shipped_vectors_cover_exactly_the_shipped_knowledge_base(kb):
    """knowledge/vectors/ holds a vector for every text the semantic index uses, and no other (`make vectors`)."""
    from bot.core.vectors import all_texts, missing_vectors, read_vectors, shipped_vectors, text_key

    assert missing_vectors(kb) == 0, "knowledge/ changed: run `make vectors` (lotsen kontrollera) and commit knowledge/vectors/"
    assert set(read_vectors(shipped_vectors(kb.source))) == {text_key(t) for t in all_texts(kb)}
