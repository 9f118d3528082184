"""Offline operations beside a live bot, in another process, with plain sqlite3: `lotsen sakerhetskopiera` and `lotsen halsa`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bot.storage.database import BUSY_TIMEOUT_MS, StorageError

HEARTBEAT_KEY = "heartbeat"

def _connect_existing(path: Path, timeout: float) -> sqlite3.Connection:
    """Opens an existing database file (never creates one); StorageError when it cannot."""
    if not path.is_file():
        raise StorageError(f"databasen {path} finns inte — ange rätt fil med LOTSEN_DB")
    try:
        return sqlite3.connect(path.absolute().as_uri() + "?mode=rw", uri=True, timeout=timeout,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"kan inte öppna databasen {path}: {exc}") from exc

def backup_database(source: Path, target: Path) -> int:
    """Copies a live database with SQLite's online backup API; returns the copy's question count.

    The copy is written beside the target and renamed into place only after an
    integrity check, so a target file is always a complete, consistent database.
    """
    partial = target.with_name(target.name + ".part")
    src = _connect_existing(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # one step: a consistent snapshot even while the bot writes
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            questions = dst.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"säkerhetskopian av {source} misslyckades: {exc}") from exc
    finally:
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise StorageError(f"säkerhetskopian av {source} klarade inte integritetskontrollen: {check}")
    partial.replace(target)
    return int(questions)

def read_health(path: Path, probe_timeout: float = 1.0) -> dict[str, Any]:
    """What `lotsen halsa` needs from the database: heartbeat JSON, open inbox rows, writability."""
    db = _connect_existing(path, timeout=probe_timeout)
    try:
        row = db.execute("SELECT value FROM bot_state WHERE key = ?", (HEARTBEAT_KEY,)).fetchone()
        pending = db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            writable = True
        except sqlite3.Error:
            writable = False
    except sqlite3.Error as exc:
        raise StorageError(f"kan inte läsa databasen {path}: {exc}") from exc
    finally:
        db.close()
    return {"heartbeat": json.loads(row[0]) if row else None, "open_inbox": int(pending), "db_writable": writable}
