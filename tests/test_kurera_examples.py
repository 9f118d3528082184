"""Every YAML example marked `<!-- validera: … -->` in docs/kurera.md validates when put where it says.

A curator copies these examples; each is inserted into a copy of the shipped
knowledge base exactly as the guide tells them to, and `load_knowledge` must
accept the result and show the change.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "kurera.md").read_text(encoding="utf-8")
EXAMPLES = dict(re.findall(r"<!-- validera: (\w+) -->\n```yaml\n(.*?)```", GUIDE, flags=re.S))


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copy(ROOT / "contacts.yaml", tmp_path / "contacts.yaml")
    (tmp_path / "knowledge" / "learned.yaml").unlink(missing_ok=True)
    return tmp_path / "knowledge", tmp_path / "contacts.yaml"


def test_the_guide_has_the_examples():
    assert set(EXAMPLES) == {"contact", "owners", "material", "topic", "municipality", "learned"}


def test_a_new_topic(copy):
    knowledge, contacts = copy
    data = yaml.safe_load(EXAMPLES["topic"])
    (knowledge / "topics" / f"{data['id']}.yaml").write_text(EXAMPLES["topic"], encoding="utf-8")
    kb = load_knowledge(knowledge, contacts)
    assert kb.topics["sorg"].name == "Sorg och kris" and len(kb.topics["sorg"].phrasings) == 5


def test_a_new_material_appended_to_the_list(copy):
    knowledge, contacts = copy
    path = knowledge / "materials.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + EXAMPLES["material"], encoding="utf-8")
    assert "sorgstod-skola" in load_knowledge(knowledge, contacts).materials


def test_a_new_locality(copy):
    knowledge, contacts = copy
    path = knowledge / "municipalities.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index("  - id: flen")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  - id:"))
    lines[start:end] = EXAMPLES["municipality"].rstrip("\n").split("\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    kb = load_knowledge(knowledge, contacts)
    assert kb.find_municipality("Orrhammar") == "flen"


def test_a_contact_and_its_owner(copy):
    knowledge, contacts = copy
    data = yaml.safe_load(contacts.read_text(encoding="utf-8"))
    example = yaml.safe_load(EXAMPLES["contact"])["municipalities"]["gnesta"]["elevhalsa"]
    data["municipalities"]["gnesta"]["elevhalsa"] = example
    data["owners"].update(yaml.safe_load(EXAMPLES["owners"])["owners"])
    contacts.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    kb = load_knowledge(knowledge, contacts)
    contact = kb.contacts.municipalities["gnesta"]["elevhalsa"]
    assert (contact.name, str(contact.verified), contact.owner) == ("Elevhälsan i Gnesta", "2026-11-30", "eva-exempeldal")


def test_the_learned_overlay(copy):
    knowledge, contacts = copy
    (knowledge / "learned.yaml").write_text(EXAMPLES["learned"], encoding="utf-8")
    kb = load_knowledge(knowledge, contacts)
    assert "Eleven vägrar klä om sig på idrotten och gömmer sig" in kb.topics["psykisk-ohalsa"].phrasings
    assert "Kan man odla tomater på skolgården?" in kb.smalltalk.offtopic
