"""Writing Telegram confirmations of contacts back into contacts.yaml (`lotsen exportera --kontakter`).

A process leader taps "Stämmer" under a contact in Telegram; the day is stored in
the database (storage.contact_checks). This module turns those days into
`verified:` lines in the YAML text, leaving every other line, comment and
quotation exactly as the curator wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date


def _id_line(lines: list[str], contact_id: str) -> tuple[int, str] | None:
    """Index of the contact's `id:` line and the indentation of its keys."""
    pattern = re.compile(r"^(\s*)(- )?id:\s*['\"]?" + re.escape(contact_id) + r"['\"]?\s*(#.*)?$")
    for i, row in enumerate(lines):
        match = pattern.match(row)
        if match:
            return i, match.group(1) + ("  " if match.group(2) else "")
    return None


def with_confirmations(text: str, confirmed: Mapping[str, date]) -> tuple[str, list[str]]:
    """contacts.yaml text with `verified:` set to each confirmed day that is newer; returns (text, changed ids)."""
    lines = text.split("\n")
    changed = []
    for contact_id, day in sorted(confirmed.items()):
        found = _id_line(lines, contact_id)
        if found is None:
            continue
        start, indent = found
        end = start + 1
        while end < len(lines) and lines[end].strip() and len(lines[end]) - len(lines[end].lstrip(" ")) >= len(indent):
            end += 1
        block = range(start + 1, end)
        verified = next((i for i in block if re.match(rf"^{indent}verified:", lines[i])), None)
        if verified is None:
            lines.insert(start + 1, f"{indent}verified: {day.isoformat()}")
            changed.append(contact_id)
            continue
        current = re.search(r"\d{4}-\d{2}-\d{2}", lines[verified])
        if current is None or date.fromisoformat(current.group(0)) < day:
            lines[verified] = f"{indent}verified: {day.isoformat()}"
            changed.append(contact_id)
    return "\n".join(lines), changed
