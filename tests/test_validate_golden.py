"""Golden output of `lotsen kontrollera` for typical hand-editing mistakes.

Each case breaks one line of a copy of the shipped knowledge base the way a
process leader would (a misspelt key, a phone copied from Word, a tab …) and
asserts the whole stderr: one Swedish line `fil:rad: vad — hur` at the line of
the mistake, nothing that follows from it, no English.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Kunskapsbasen har fel:\n"
FOOTER = "1 fel. Rätta dem och kör `lotsen kontrollera` igen.\n"
ENGLISH = re.compile(r"\b(Value error|Input should|Extra inputs|not permitted|found|expected|character|while)\b")


@dataclass(frozen=True)
class Break:
    """Replace `old` by `new` on the first line containing `old` after the line containing `after`."""

    name: str
    file: str
    after: str | None
    old: str
    new: str
    expected: str  # the one problem line; {line} is the broken line, {line-2} two above it
    offset: int = 0


CASES = (
    Break("misspelt role key", "contacts.yaml", "  flen:", "    bup-kontakt:", "    bup-kontak:",
          'contacts.yaml:{line}: rollen "bup-kontak" finns inte — menade du "bup-kontakt"?'),
    Break("misspelt municipality key", "contacts.yaml", None, "  flen:", "  fln:",
          'contacts.yaml:{line}: kommunen "fln" finns inte — menade du "flen"?'),
    Break("words in a phone", "contacts.yaml", "  flen:", "phone: 070-174 06 09", "phone: ring 070-174 06 09",
          'contacts.yaml:{line}: telefonnumret "ring 070-174 06 09" har annat än siffror, mellanslag och '
          "bindestreck — skriv bara numret, t.ex. 016-710 00 00, och övrigt under note:"),
    Break("en dash from Word", "contacts.yaml", "  flen:", "phone: 070-174 06 09", "phone: 070–174 06 09",
          'contacts.yaml:{line}: telefonnumret "070–174 06 09" har ett långt tankstreck (–) i stället för '
          'bindestreck — skriv ett vanligt bindestreck: "070-174 06 09"'),
    Break("non-breaking space", "contacts.yaml", "  flen:", "phone: 070-174 06 09", "phone: 070-174\u00a006 09",
          'contacts.yaml:{line}: telefonnumret "070-174\u00a006 09" har ett hårt mellanslag (ofta inkopierat från '
          'Word eller en webbsida) — skriv om mellanslagen som vanliga mellanslag: "070-174 06 09"'),
    Break("empty phone", "contacts.yaml", "  flen:", "phone: 070-174 06 09", "phone: ''",
          'contacts.yaml:{line}: "phone" är tomt — skriv 070-174 06 05 efter phone:'),
    Break("tab indentation", "knowledge/materials.yaml", None, "    title: Barnets", "\ttitle: Barnets",
          "knowledge/materials.yaml:{line}: raden är indragen med tabb — dra in med mellanslag (två per nivå), aldrig tabb"),
    Break("dedented list item", "knowledge/glossary.yaml", None, '  - term: "EHT"', ' - term: "EHT"',
          "knowledge/glossary.yaml:{line}: raden är felaktigt indragen — dra in den lika långt som raderna på samma nivå ovanför"),
    Break("misspelt field", "contacts.yaml", "  flen:", "      fictitious: true", "      verifed: 2026-01-01",
          'contacts.yaml:{line}: okänt fält "verifed" — menade du "verified"?'),
    Break("real contact keeps a fiction number", "contacts.yaml", "  flen:", "      fictitious: true", "      fictitious: false",
          'contacts.yaml:{line}: kontakten har fictitious: false men numret "070-174 06 09" är ett påhittat '
          "PTS-nummer — skriv den riktiga personens nummer, eller sätt fictitious: true så länge kontakten är ett exempel",
          offset=-2),
    Break("misspelt role id", "knowledge/roles.yaml", None, "id: bup-kontakt", "id: bup-kontak",
          'knowledge/roles.yaml:{line}: rollen "bup-kontak" är felstavat — id ska vara exakt "bup-kontakt" (som i taxonomin)'),
    Break("misspelt municipality id", "knowledge/municipalities.yaml", None, "id: flen", "id: fleen",
          'knowledge/municipalities.yaml:{line}: kommunen "fleen" är felstavat — id ska vara exakt "flen" (som i taxonomin)'),
    Break("yes in Swedish", "contacts.yaml", "  flen:", "      fictitious: true", "      fictitious: ja",
          'contacts.yaml:{line}: "fictitious" ska vara true eller false, inte "ja" — skriv true eller false'),
    Break("colon in a value", "contacts.yaml", "  flen:", "      note: ", "      note: Obs: ",
          "contacts.yaml:{line}: värdet innehåller kolon och mellanslag — sätt värdet inom citattecken, "
          "t.ex. note: 'Obs: ring först'"),
    Break("impossible date", "contacts.yaml", "  flen:", "      verified: ", "      verified: 2026-13-01 #",
          'contacts.yaml:{line}: "2026-13-01" är inget giltigt datum — skriv datumet som ÅÅÅÅ-MM-DD, t.ex. 2026-11-30'),
    Break("capital letter in an id", "knowledge/materials.yaml", None, "  - id: hjulet", "  - id: Hjulet",
          'knowledge/materials.yaml:{line}: "Hjulet" är inte ett giltigt värde för "id" — använd bara små bokstäver '
          "a–z, siffror och bindestreck, t.ex. oro-hemmet"),
    Break("field name in Swedish", "contacts.yaml", "  flen:", "      name: ", "      namn: ",
          'contacts.yaml:{line}: okänt fält "namn" — menade du "name"?'),
    Break("unclosed quote", "contacts.yaml", "  flen:", "      name: ", "      name: 'Karin ",
          "contacts.yaml:{line}: citattecknet som börjar här avslutas aldrig — lägg till det avslutande "
          "citattecknet (' eller \") på samma rad"),
)


def _break(root: Path, case: Break) -> int:
    path = root / case.file
    lines = path.read_text(encoding="utf-8").split("\n")
    start = next(i for i, row in enumerate(lines) if case.after in row) if case.after else 0
    index = next(i for i in range(start, len(lines)) if case.old in lines[i])
    lines[index] = lines[index].replace(case.old, case.new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_mistake_gives_one_swedish_line_at_its_line(case, tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copy(ROOT / "contacts.yaml", tmp_path / "contacts.yaml")
    (tmp_path / "knowledge" / "learned.yaml").unlink(missing_ok=True)
    line = _break(tmp_path, case) + case.offset
    monkeypatch.setenv("LOTSEN_KNOWLEDGE", str(tmp_path / "knowledge"))
    monkeypatch.setenv("LOTSEN_CONTACTS", str(tmp_path / "contacts.yaml"))
    monkeypatch.delenv("LOTSEN_LEARNED", raising=False)

    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    # Paths in the messages are absolute: the golden lines name files relative to the data directory.
    expected = f"{tmp_path}/" + case.expected.format(line=line)
    assert err == HEADER + "  " + expected + "\n" + FOOTER
    assert not ENGLISH.search(err)

