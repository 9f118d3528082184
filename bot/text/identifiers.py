"""Redaction of direct identifiers: what Lotsen removes from a message before anything is written.

`redact(text, keep)` replaces names, phone numbers, e-mail addresses, street
addresses, car plates and personnummer with a readable placeholder — "[namn]",
"[telefon]", "[e-post]", "[adress]", "[regnr]", "[personnummer]" — so that a
stored question still reads naturally ("[namn] i 8B har skurit sig") and the
router reads the same text that is stored. What must survive stays: places,
role words, ages, school years and class names, the knowledge base's own
contacts (`Keep`), and ordinary words.

Every adapter calls it before a message is stored, logged, exported or
forwarded; storage calls `redact(text, names=False)` once more as a second line
of defence (names need the knowledge base's `Keep`, which storage has not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.text import names, patterns, personnummer
from bot.text.normalize import BREAK, fold, is_english, words

# The placeholders, by kind, and what the kind is called in the one line that tells the user.
PLACEHOLDERS: dict[str, str] = {
    "personnummer": personnummer.PLACEHOLDER,
    "telefon": "[telefon]",
    "e-post": "[e-post]",
    "adress": "[adress]",
    "regnr": "[regnr]",
    "namn": "[namn]",
}
_CALLED = {
    "namn": "namn", "telefon": "telefonnummer", "e-post": "e-postadress", "adress": "adress",
    "regnr": "registreringsnummer", "personnummer": "personnummer",
}
_WORDS = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_ANY_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
# Letter groups that look like a plate's letters but are words here ("BUP 112" is no car).
_NOT_PLATES = frozenset({"bup", "sip", "eht", "lss", "npf", "bvc", "gym", "ssk", "kbt", "dbt", "pdf", "akt", "tel", "nr"})


@dataclass(frozen=True)
class Keep:
    """What is never removed: folded words (places, apps, holidays …), whole names (the knowledge base's
    contact persons, each only as a whole) and the contacts' phone numbers (digits)."""

    words: frozenset[str] = frozenset()
    names: frozenset[tuple[str, ...]] = frozenset()
    digits: frozenset[str] = frozenset()
    # Names of the knowledge base's own material ("Ella", "Alina"), kept where the message speaks of
    # material (one of `context`, as part of any word: "workshopcaset", "materialet").
    material_names: frozenset[str] = frozenset()
    context: tuple[str, ...] = ()

    @classmethod
    def of(cls, words: Iterable[str] = (), names: Iterable[str] = (), phones: Iterable[str] = (),
           material_names: Iterable[str] = (), context: Iterable[str] = ()) -> Keep:
        """From words, phrases and full names (a phrase or a name is kept only whole) and phone numbers."""
        # A word is kept everywhere; a phrase ("Viking Line", a contact's name) only where it stands whole.
        kept = {fold(w) for phrase in words if len(found := _WORDS.findall(phrase)) == 1 for w in found}
        phrases = [*names, *(phrase for phrase in words if len(_WORDS.findall(phrase)) > 1)]
        full = {tuple(fold(w) for w in _WORDS.findall(name)) for name in phrases}
        return cls(frozenset(kept), frozenset(n for n in full if n), frozenset(re.sub(r"\D", "", p) for p in phones),
                   frozenset(fold(n) for n in material_names), tuple(fold(c) for c in context))

    def words_for(self, text: str) -> frozenset[str]:
        """The words kept in this message: material names only where it speaks of material."""
        if self.material_names and any(c in fold(text) for c in self.context):
            return self.words | self.material_names
        return self.words


@dataclass(frozen=True)
class Redaction:
    """A redacted text and the kinds of identifier removed from it ("namn", "telefon" …)."""

    text: str
    kinds: frozenset[str] = field(default_factory=frozenset)

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def redact(text: str, keep: Keep = Keep(), *, names_too: bool = True, keep_phones: bool = False) -> Redaction:
    """The text with every direct identifier replaced by its placeholder (see the module docstring).

    `keep_phones` leaves phone numbers: only for the field where a requester says how to be reached.
    """
    norm, chosen = find(text, keep, names_too=names_too)
    if keep_phones:
        chosen = [c for c in chosen if c[2] != "telefon"]
    if not chosen:
        return Redaction(text)  # untouched, not even normalised
    out, last = [], 0
    for start, end, kind in chosen:
        out.append(norm[last:start])
        out.append(PLACEHOLDERS[kind])
        last = end
    out.append(norm[last:])
    return Redaction("".join(out), frozenset(kind for _, _, kind in chosen))


def find(text: str, keep: Keep = Keep(), *, names_too: bool = True) -> tuple[str, list[tuple[int, int, str]]]:
    """The text in the form spans refer to (NFKC, no invisible characters), and the identifiers' spans and kinds."""
    if not text:
        return text, []
    norm = personnummer.normalise(text)
    phones = patterns.phones(norm, keep.digits)
    # A mobile or Stockholm number whose digits happen to make a date and a check digit is a phone number.
    spans: list[tuple[int, int, str]] = [
        (m.start, m.end, "personnummer") for m in personnummer.find(norm)
        if m.written_like or not re.sub(r"\D", "", norm[m.start : m.end]).startswith(("07", "08"))
        or not any(a <= m.start and m.end <= b for a, b in phones)
    ]
    spans += [(a, b, "e-post") for a, b in patterns.emails(norm)]
    spans += [(a, b, "telefon") for a, b in phones]
    spans += [(a, b, "adress") for a, b in patterns.addresses(norm)]
    spans += [(a, b, "regnr") for a, b in patterns.plates(norm, _NOT_PLATES | keep.words, names.is_frequent_word)]
    if names_too:
        english = _looks_english(norm)
        spans += [(a, b, "namn") for a, b in names.find(norm, keep.words_for(norm), english, keep.names)]
    placed = [m.span() for m in _ANY_PLACEHOLDER.finditer(norm)]  # already redacted: left as they are
    spans = [s for s in spans if not any(a < s[1] and s[0] < b for a, b in placed)]
    return norm, _without_overlaps(spans)


def _without_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The spans in order; where two overlap, the one found first in `redact`'s order (numbers before names) wins,
    grown to cover both."""
    order = {kind: n for n, kind in enumerate(("personnummer", "e-post", "telefon", "adress", "regnr", "namn"))}
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (order[s[2]], s[0])):
        overlapping = [c for c in chosen if c[0] < end and start < c[1]]
        if overlapping:
            first = overlapping[0]
            chosen = [c for c in chosen if c not in overlapping]
            chosen.append((min(start, *(c[0] for c in overlapping)), max(end, *(c[1] for c in overlapping)), first[2]))
        else:
            chosen.append((start, end, kind))
    return sorted(chosen)


def kinds_in(text: str) -> frozenset[str]:
    """The kinds whose placeholders stand in an already redacted text."""
    found = set(_ANY_PLACEHOLDER.findall(text))
    return frozenset(kind for kind, placeholder in PLACEHOLDERS.items() if placeholder in found)


def placeholders_to_space(text: str) -> str:
    """The text with every placeholder made a space (what the router reads: a placeholder is no word)."""
    return _ANY_PLACEHOLDER.sub(" ", text)


def note(kinds: Iterable[str], what: str = "frågan") -> str | None:
    """The one Swedish line that tells the user what was left out, never what it was; None when nothing was."""
    called = [name for kind, name in _CALLED.items() if kind in set(kinds)]
    if not called:
        return None
    listed = called[0] if len(called) == 1 else ", ".join(called[:-1]) + " och " + called[-1]
    return f"Jag sparade {what} utan {listed}."


def _looks_english(text: str) -> bool:
    """True when the message is written in English (its English words then count as words, not names)."""
    return is_english([w for w in words(text) if w != BREAK])

