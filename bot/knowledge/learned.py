"""The learned overlay (knowledge/learned.yaml, or LOTSEN_LEARNED): what the curation loop in Telegram taught Lotsen.

`/obesvarade` adds an unanswered question as a phrasing of a topic or as an
off-topic example; `/angra` takes it out again. `bot.knowledge.base` merges the file
into the topics' `phrasings` and smalltalk's `offtopic` when it loads. Writes
are atomic (a temporary file renamed over the old one), so a crash never leaves
half a file, and they are plain YAML a curator can read, edit or move into the
topic files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

HEADER = (
    "# Lärt via /obesvarade i Telegram. Läses in ovanpå ämnesfilerna (phrasings) och smalltalk.yaml (offtopic).\n"
    "# Du kan flytta formuleringarna till knowledge/topics/<ämne>.yaml och ta bort dem här.\n"
)


def read(path: Path) -> dict[str, Any]:
    """The overlay as {"phrasings": {topic: [text]}, "offtopic": [text]}; empty when the file is missing."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data if isinstance(data, dict) else {}
    return {
        "phrasings": {str(k): list(v or []) for k, v in (data.get("phrasings") or {}).items()},
        "offtopic": list(data.get("offtopic") or []),
    }


def write(path: Path, data: dict[str, Any]) -> None:
    """Writes the overlay atomically (temporary file in the same directory, then rename)."""
    phrasings = {k: v for k, v in data["phrasings"].items() if v}
    body: dict[str, Any] = {}
    if phrasings:
        body["phrasings"] = phrasings
    if data["offtopic"]:
        body["offtopic"] = data["offtopic"]
    text = HEADER + (yaml.safe_dump(body, allow_unicode=True, sort_keys=True, width=1000) if body else "{}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".learned-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add(path: Path, action: str, text: str, topic: str | None = None) -> None:
    """Adds `text` as a phrasing of `topic` (action 'topic') or as an off-topic example ('offtopic')."""
    data = read(path)
    target = data["phrasings"].setdefault(topic or "", []) if action == "topic" else data["offtopic"]
    if text not in target:
        target.append(text)
    write(path, data)


def remove(path: Path, action: str, text: str, topic: str | None = None) -> None:
    """Takes out what `add` put in (the undo of an act)."""
    data = read(path)
    target = data["phrasings"].get(topic or "", []) if action == "topic" else data["offtopic"]
    while text in target:
        target.remove(text)
    write(path, data)
