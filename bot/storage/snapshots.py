"""The last knowledge bases that loaded without errors (`bot.ops.snapshot` falls back to the newest).
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.storage.database import Database, iso, parse

SNAPSHOTS_TABLE = """
-- knowledge_snapshots: each knowledge base that loaded without errors, so that a broken
-- one at start-up can be replaced by the last good one (bot.ops.snapshot). files is a JSON
-- object {relative path: file text}; only the newest few are kept.
CREATE TABLE knowledge_snapshots (
    hash  TEXT PRIMARY KEY,  -- sha256 over every file's path and text
    saved TEXT NOT NULL,     -- UTC ISO time it last loaded successfully
    files TEXT NOT NULL
)
"""

class Snapshots:
    """The last knowledge bases that loaded without errors."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, digest: str, files: dict[str, str], keep: int = 3) -> None:
        """Remembers a knowledge base that loaded without errors; keeps the newest `keep`."""
        async with self._db.write() as db:
            await db.execute(
                """
                INSERT INTO knowledge_snapshots (hash, saved, files) VALUES (?, ?, ?)
                ON CONFLICT (hash) DO UPDATE SET saved = excluded.saved
                """,
                (digest, iso(None), json.dumps(files, ensure_ascii=False)),
            )
            await db.execute(
                "DELETE FROM knowledge_snapshots WHERE hash NOT IN "
                "(SELECT hash FROM knowledge_snapshots ORDER BY saved DESC, rowid DESC LIMIT ?)",
                (keep,),
            )

    async def latest(self) -> tuple[str, datetime, dict[str, str]] | None:
        """The newest good knowledge base as (hash, saved, files), or None."""
        rows = await self._db.read(
            "SELECT hash, saved, files FROM knowledge_snapshots ORDER BY saved DESC, rowid DESC LIMIT 1"
        )
        if not rows:
            return None
        saved = parse(rows[0]["saved"])
        assert saved is not None
        return rows[0]["hash"], saved, json.loads(rows[0]["files"])
