"""What redaction keeps for this knowledge base: its places, its own contacts and the words in knowledge/privacy.yaml.

A message may name the municipality, a locality, one of the knowledge base's
contact persons (so a question about "Anna Lindqvist på BUP" still reads as one)
and the apps, holidays and organisations that are no person; none of these is
ever removed, and the contacts' own numbers may be quoted.
"""

from __future__ import annotations

from bot.knowledge.base import KnowledgeBase, all_contacts
from bot.text.identifiers import Keep


def keep_for(kb: KnowledgeBase) -> Keep:
    """The `Keep` of this knowledge base (built once per load; cheap to use)."""
    words: list[str] = [*kb.privacy.not_names]
    for m in kb.municipalities.values():
        words += [m.id, m.name, *m.aliases, *m.localities]
    contacts = [c for _, c in all_contacts(kb.contacts)]
    words += [r.name for r in kb.roles.values()]
    # A contact's name is kept only whole ("Karin Exempelsson"): its first name alone may be a child's.
    full_names = [c.name for c in contacts]
    return Keep.of(words, full_names, [c.phone for c in contacts], _material_names(kb), MATERIAL_CONTEXT)


# Words that say a message speaks of material, not of a child ("caset om Ella", "workshopmaterialet").
MATERIAL_CONTEXT = ("case", "workshop", "material", "ovning", "hjulet")


def _material_names(kb: KnowledgeBase) -> list[str]:
    """The names in the material's own titles ("Workshopcase Ella, 12 år" → Ella): capitalised words after the first."""
    names = []
    for material in kb.materials.values():
        words = material.title.replace(",", " ").split()
        names += [w for w in words[1:] if w[:1].isupper() and w.isalpha() and not w.isupper()]
    return names
