"""YAML with line numbers: every problem in a curated file names its file and line.

`read_yaml` parses a file and remembers the line of every path inside it;
`validate` checks a part of it against a schema and words each error in Swedish
(`bot.knowledge.validation`) at its own line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import Problem
from bot.knowledge.validation import schema_problem, yaml_problem

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
class Doc:
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


def read_yaml(path: Path, label: str, problems: list[Problem]) -> Doc | None:
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
    return Doc(path, label, data, lines)


def validate(model: type[BaseModel], data: Any, doc: Doc, prefix: tuple[Any, ...], problems: list[Problem]) -> Any:
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


def suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f'menade du "{close[0]}"?' if close else "använd ett id som finns"
