"""Swedish wording for what is wrong in a knowledge-base file, and on which line.

`bot.knowledge.base` finds the problems; this module turns a YAML syntax error or a
pydantic validation error into one `Problem` (`fil:rad: vad — hur`) that a
process leader can act on without knowing YAML or Python: no English library
text, the line where the mistake is, and a concrete fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

# Indentation problems are reported at the line that breaks the pattern, which is
# often above the line where the parser gave up.
_INDENT_PROBLEMS = ("expected <block end>", "did not find expected key", "mapping values are not allowed",
                    "expected '-' indicator", "could not find expected ':'")


def yaml_problem(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, str, str]:
    """(line, what, fix) in Swedish for a YAML syntax error in `text`."""
    lines = text.split("\n")
    for n, row in enumerate(lines, start=1):
        indent = row[: len(row) - len(row.lstrip(" \t"))]
        if "\t" in indent:
            return n, "raden är indragen med tabb", "dra in med mellanslag (två per nivå), aldrig tabb"
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    start = exc.context_mark.line + 1 if exc.context_mark else line
    if "quoted scalar" in context:
        return start, "citattecknet som börjar här avslutas aldrig", "lägg till det avslutande citattecknet (' eller \") på samma rad"
    if "flow sequence" in context or "flow mapping" in context:
        return start, "listan inom hakparentes avslutas inte rätt", "sätt komma mellan värdena och ] sist, t.ex. [adhd, autism]"
    if "simple key" in context:
        return start, "raden saknar kolon efter nyckeln", "skriv nyckel: värde, t.ex. name: Flen"
    if any(p in problem for p in _INDENT_PROBLEMS):
        opened = _unclosed_quote(lines, line)
        if opened:
            return opened, "citattecknet som börjar här avslutas aldrig", "lägg till det avslutande citattecknet (' eller \") på samma rad"
        if "mapping values are not allowed" in problem and _has_unquoted_colon(lines, line):
            return line, "värdet innehåller kolon och mellanslag", "sätt värdet inom citattecken, t.ex. note: 'Obs: ring först'"
        culprit = _misindented_line(lines, line, start)
        return culprit, "raden är felaktigt indragen", "dra in den lika långt som raderna på samma nivå ovanför"
    if "alias" in problem or "anchor" in problem:
        return line, "raden har ett * eller & som YAML läser som en hänvisning", "sätt värdet inom citattecken"
    if "cannot start any token" in problem:
        return line, "raden börjar med ett tecken som måste stå inom citattecken (t.ex. @, ` eller %)", "sätt värdet inom citattecken"
    return line, "filen går inte att läsa som YAML", "jämför med exemplen i docs/kurera.md: nyckel: värde, listor med '- '"


def _has_unquoted_colon(lines: Sequence[str], line: int) -> bool:
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    _, _, value = row.partition(": ")
    return bool(value) and ": " in value and value.lstrip()[:1] not in "'\""


def _unclosed_quote(lines: Sequence[str], line: int) -> int | None:
    """The nearest line above `line` whose quoted value is not closed on that line."""
    for i in range(min(line, len(lines)) - 1, max(0, line - 40) - 1, -1):
        match = re.match(r"\s*(?:-\s+)?(?:[^'\"#:]+:\s+)?(['\"])(.*)$", lines[i])
        if match and match.group(1) not in match.group(2).replace("''", ""):
            return i + 1
    return None


def _indent(row: str) -> int:
    return len(row) - len(row.lstrip(" "))


def _parses(lines: Sequence[str]) -> bool:
    try:
        yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        return False
    return True


def _misindented_line(lines: list[str], line: int, start: int) -> int:
    """The line nearest above `line` whose re-indentation makes the file parse; else `line`."""
    content = [i for i, row in enumerate(lines) if row.strip() and not row.lstrip().startswith("#")]
    levels = sorted({_indent(lines[i]) for i in content})
    low = max(0, min(start, line) - 1, line - 40)
    for i in range(min(line, len(lines)) - 1, low - 1, -1):
        row = lines[i]
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        for level in levels:
            if level == _indent(row):
                continue
            trial = [*lines[:i], " " * level + row.lstrip(" "), *lines[i + 1 :]]
            if _parses(trial):
                return i + 1
    return line


# ---------------------------------------------------------------------------- schema errors


def field_label(loc: Sequence[Any]) -> str:
    """The YAML key an error is about: the last name in its path ("phone", "roles")."""
    names = [str(p) for p in loc if isinstance(p, str)]
    return names[-1] if names else "posten"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "en lista"
    if isinstance(value, dict):
        return "nycklar och värden"
    return f'"{value}"'


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ((), [], {})


def _pattern_hint(field: str) -> str:
    if field == "color":
        return "skriv en färgkod som \"#e4572e\""
    if field == "office_hours":
        return "skriv tiden som 08:00-16:30"
    return "använd bara små bokstäver a–z, siffror och bindestreck, t.ex. oro-hemmet"


def schema_problem(err: dict[str, Any], known_fields: Iterable[str]) -> tuple[str, str]:
    """(what, fix) in Swedish for one pydantic error; never the library's English message."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    field = field_label(err["loc"])
    if kind == "missing":
        return f'fältet "{field}" saknas', f"lägg till en rad {field}: med ett värde"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, list(known_fields), n=1, cutoff=0.6)
        return f'okänt fält "{field}"', (f'menade du "{close[0]}"?' if close else "ta bort raden eller stava fältet som i docs/kurera.md")
    if kind == "phone_dash":
        return f'telefonnumret {_show(value)} har ett långt tankstreck (–) i stället för bindestreck', f'skriv ett vanligt bindestreck: "{ctx["fixed"]}"'
    if kind == "phone_space":
        return f'telefonnumret {_show(value)} har ett hårt mellanslag (ofta inkopierat från Word eller en webbsida)', f'skriv om mellanslagen som vanliga mellanslag: "{ctx["fixed"]}"'
    if kind == "phone_chars":
        return f"telefonnumret {_show(value)} har annat än siffror, mellanslag och bindestreck", "skriv bara numret, t.ex. 016-710 00 00, och övrigt under note:"
    if _is_empty(value) and kind not in ("bool_parsing", "bool_type", "int_parsing", "int_type"):
        example = "070-174 06 05" if field == "phone" else "en text"
        return f'"{field}" är tomt', f"skriv {example} efter {field}:"
    if kind == "string_too_short":
        return f'"{field}" är för kort (minst {ctx.get("min_length")} tecken)', "skriv en längre text"
    if kind == "too_short":
        return f'"{field}" har för få rader (minst {ctx.get("min_length")})', "lägg till fler rader som börjar med '- '"
    if kind == "string_pattern_mismatch":
        return f'{_show(value)} är inte ett giltigt värde för "{field}"', _pattern_hint(field)
    if kind in ("bool_parsing", "bool_type"):
        return f'"{field}" ska vara true eller false, inte {_show(value)}', "skriv true eller false"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f'"{field}" ska vara ett heltal, inte {_show(value)}', "skriv bara siffror, eller null"
    if kind.startswith("date"):
        return f'"{field}" ska vara ett datum, inte {_show(value)}', "skriv datumet som ÅÅÅÅ-MM-DD, t.ex. 2026-11-30"
    if kind == "literal_error":
        allowed = re.sub(r"\bor\b", "eller", str(ctx.get("expected", "")))
        return f'{_show(value)} är inte tillåtet för "{field}"', f"välj {allowed}"
    if kind == "string_type":
        return f'"{field}" ska vara en text, inte {_show(value)}', "skriv texten på samma rad, gärna inom citattecken"
    if kind in ("tuple_type", "list_type"):
        return f'"{field}" ska vara en lista', "skriv ett värde per rad som börjar med '- '"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f'"{field}" ska innehålla nycklar och värden', "se exemplen i docs/kurera.md"
    return f'"{field}" har ett ogiltigt värde', "rätta värdet enligt exemplen i docs/kurera.md"
