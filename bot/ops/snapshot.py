"""The last good knowledge base, so that a broken one never stops the bot.

Each knowledge base that loads without errors is saved in the database
(`Storage.save_knowledge_snapshot`: every file's text, under a hash of them
all). When the files on disk are broken at start-up, `load_or_fallback` loads
the newest snapshot instead and returns the problems, so the bot runs on the
last good version, logs the errors and tells the admins — rather than exiting
and being restarted into the same error forever. Without any snapshot the
errors are raised as usual (the first start must have a valid knowledge base).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import KnowledgeError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_knowledge
from bot.storage.store import Storage

_LOGGER = logging.getLogger(__name__)
CONTACTS_NAME = "contacts.yaml"


def read_files(knowledge_dir: Path, contacts_file: Path) -> dict[str, str]:
    """The knowledge base's files as {"knowledge/<relative path>" | "contacts.yaml": text}."""
    files: dict[str, str] = {}
    if knowledge_dir.is_dir():
        for path in sorted(knowledge_dir.rglob("*.yaml")):
            files[f"knowledge/{path.relative_to(knowledge_dir).as_posix()}"] = path.read_text(encoding="utf-8")
    if contacts_file.is_file():
        files[CONTACTS_NAME] = contacts_file.read_text(encoding="utf-8")
    return files


def digest(files: dict[str, str]) -> str:
    """A short stable hash of the files (path and text of each)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:16]


def materialize(files: dict[str, str], directory: Path) -> tuple[Path, Path]:
    """Writes a snapshot's files under directory; returns (knowledge_dir, contacts_file)."""
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory / "knowledge", directory / CONTACTS_NAME


def read_and_load(settings: Settings) -> tuple[KnowledgeBase, str, dict[str, str]]:
    """Reads and loads the knowledge base named by the settings; raises KnowledgeError."""
    try:
        files = read_files(settings.knowledge_dir, settings.contacts_file)
    except (OSError, UnicodeDecodeError):
        files = {}  # load_knowledge reports the unreadable file precisely
    kb = load_knowledge(settings.knowledge_dir, settings.contacts_file, settings.learned_path)
    return kb, digest(files), files


@dataclass(frozen=True)
class Loaded:
    """The knowledge base in use; `problems` is set when it is a snapshot standing in for broken files."""

    kb: KnowledgeBase
    kb_hash: str
    problems: KnowledgeError | None = None
    snapshot_saved: datetime | None = None


async def load_or_fallback(settings: Settings, storage: Storage) -> Loaded:
    """Loads the files and snapshots them, or falls back to the newest snapshot; raises without one."""
    try:
        kb, kb_hash, files = await asyncio.to_thread(read_and_load, settings)
    except KnowledgeError as exc:
        found = await storage.snapshots.latest()
        if found is None:
            raise
        snap_hash, saved, snap_files = found
        directory = Path(tempfile.mkdtemp(prefix="lotsen-kunskapsbas-"))
        knowledge_dir, contacts_file = materialize(snap_files, directory)
        kb = await asyncio.to_thread(load_knowledge, knowledge_dir, contacts_file)
        _LOGGER.error(
            "Kunskapsbasen på disk har %d fel; Lotsen kör på den senast fungerande (%s, sparad %s)",
            len(exc.problems), snap_hash, saved.isoformat(timespec="seconds"),
        )
        for problem in exc.problems:
            _LOGGER.error("  %s", problem)
        return Loaded(kb, snap_hash, exc, saved)
    try:
        await storage.snapshots.save(kb_hash, files)
    except sqlite3.Error as exc:  # no room for the snapshot: run on what loaded, the health checks report the disk
        _LOGGER.warning("Kunskapsbasen kunde inte sparas som senast fungerande version (%s)", type(exc).__name__)
    return Loaded(kb, kb_hash)


def fallback_notice(loaded: Loaded, limit: int = 10) -> str:
    """The Swedish message to the admins when Lotsen started on a snapshot."""
    assert loaded.problems is not None and loaded.snapshot_saved is not None
    problems = loaded.problems.problems
    lines = [
        f"⚠️ Kunskapsbasen på disk har {len(problems)} fel och togs inte i bruk. Lotsen kör på den senast "
        f"fungerande versionen (sparad {loaded.snapshot_saved:%Y-%m-%d %H:%M} UTC).",
        "Rätta felen, kontrollera med `lotsen kontrollera` och skicka /ladda_om.",
        "",
    ]
    lines += [f"• {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"… och {len(problems) - limit} till.")
    return "\n".join(lines)
