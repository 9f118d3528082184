"""The question log: every message the router answered or declined, for statistics and curation.

Texts arrive redacted; as a second line of defence their numbers, e-mail and street addresses are removed once more here (`bot.text.identifiers.redact` without names, which need the knowledge base).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.storage.database import Database, iso
from bot.text.identifiers import redact

# How sure the router must have been before a question stops counting as "unanswered".
LOW_CONFIDENCE = 0.5

# Kinds that are small talk: declined by the router, but not a question Lotsen missed.
SMALL_TALK_KINDS = ("greeting", "thanks", "empty")

# Columns stored as 0/1 and read back as booleans.
BOOLEAN_COLUMNS = frozenset({"declined", "urgent", "personnummer"})

QUESTIONS_TABLE = """
-- questions: every message the router answered or declined, for statistics and for
-- finding phrasings that the knowledge base lacks. text is redacted before it
-- arrives and cleared (NULL) by purge() after the retention period, as is user_key.
CREATE TABLE questions (
    id           INTEGER PRIMARY KEY,
    created      TEXT NOT NULL,
    source_key   TEXT NOT NULL UNIQUE,  -- idempotency key: 'tg:<update_id>', 'cli:<uuid>'
    user_key     TEXT,
    municipality TEXT,
    role         TEXT,
    text         TEXT,
    topics       TEXT NOT NULL DEFAULT '[]',  -- JSON list of {"id": ..., "score": ...}, best first
    top_topic    TEXT,
    top_score    REAL,
    declined     INTEGER NOT NULL CHECK (declined IN (0, 1)),
    kind         TEXT NOT NULL,         -- bot.core.answer.Kind: answer, declined, greeting, thanks, empty
    urgent       INTEGER NOT NULL CHECK (urgent IN (0, 1)),
    personnummer INTEGER NOT NULL CHECK (personnummer IN (0, 1)),  -- a number was found and removed
    feedback     INTEGER CHECK (feedback IN (-1, 1)),  -- thumbs up (+1) / down (-1), NULL if none
    feedback_at  TEXT
)
"""

class QuestionLog:
    """The question log: every message routed, for statistics and curation."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def log(
        self,
        *,
        source_key: str,
        user_key: str | None,
        municipality: str | None,
        role: str | None,
        text: str,
        topics: list[dict],
        declined: bool,
        kind: str,
        urgent: bool,
        personnummer: bool,
        now: datetime | None = None,
    ) -> int | None:
        """Logs one routed message; returns its id, or None when source_key was logged before."""
        top = max(topics, key=lambda t: t["score"]) if topics else None
        async with self._db.write() as db:
            cursor = await db.execute(
                """
                INSERT INTO questions (created, source_key, user_key, municipality, role, text, topics,
                                       top_topic, top_score, declined, kind, urgent, personnummer)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source_key) DO NOTHING
                """,
                (
                    iso(now),
                    source_key,
                    user_key,
                    municipality,
                    role,
                    redact(text, names_too=False).text,
                    json.dumps(
                        [{"id": t["id"], "score": round(float(t["score"]), 4)} for t in topics],
                        ensure_ascii=False,
                    ),
                    top["id"] if top else None,
                    float(top["score"]) if top else None,
                    int(declined),
                    str(kind),
                    int(urgent),
                    int(personnummer),
                ),
            )
            return cursor.lastrowid if cursor.rowcount == 1 else None

    async def id_for(self, source_key: str) -> int | None:
        """Returns the id of the question logged under source_key, if any."""
        rows = await self._db.read("SELECT id FROM questions WHERE source_key = ?", (source_key,))
        return rows[0]["id"] if rows else None

    async def by_source(self, source_key: str) -> dict[str, Any] | None:
        """Returns the question logged under source_key as a dict (topics parsed), or None.

        `text` is None once the question has been purged.
        """
        rows = await self._db.read("SELECT * FROM questions WHERE source_key = ?", (source_key,))
        if not rows:
            return None
        question = dict(rows[0])
        question["topics"] = json.loads(question["topics"])
        for key in BOOLEAN_COLUMNS:
            question[key] = bool(question[key])
        return question

    async def set_feedback(self, question_id: int, value: int, user_key: str | None = None) -> bool:
        """Records thumbs up (+1) or down (-1); with user_key, only on that user's own question."""
        if value not in (1, -1):
            raise ValueError(f"feedback must be +1 or -1, got {value!r}")
        async with self._db.write() as db:
            cursor = await db.execute(
                """
                UPDATE questions SET feedback = ?, feedback_at = ?
                WHERE id = ? AND (? IS NULL OR user_key = ?)
                """,
                (value, iso(None), question_id, user_key, user_key),
            )
            return cursor.rowcount == 1

    async def unanswered(self, limit: int = 20) -> list[dict]:
        """Returns the latest declined, low-confidence or 👎 questions that still have their text, newest first."""
        rows = await self._db.read(
            f"""
            SELECT id, created, municipality, role, text, top_topic, top_score, kind, feedback
            FROM questions
            WHERE text IS NOT NULL AND text != ''
              AND kind NOT IN ({", ".join("?" for _ in SMALL_TALK_KINDS)})
              AND (declined = 1 OR top_score IS NULL OR top_score < ? OR feedback = -1)
            ORDER BY created DESC, id DESC
            LIMIT ?
            """,
            (*SMALL_TALK_KINDS, LOW_CONFIDENCE, limit),
        )
        return [dict(row) for row in rows]

    async def text(self, question_id: int) -> str | None:
        """The (redacted) text of a logged question, or None once purged or unknown."""
        rows = await self._db.read("SELECT text FROM questions WHERE id = ?", (question_id,))
        return rows[0]["text"] if rows else None
