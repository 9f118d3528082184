"""The data subject's rights: what Lotsen holds about a user (`/mina_uppgifter`), and forgetting it (`/glom_mig`).

Also the one-time redaction of texts stored before Lotsen removed names and
numbers (`redact_stored`), run at start-up with the knowledge base's `Keep`.

Forgetting removes the user's profile, the text and the pseudonym of every
question, the text, contact details and chat of every consultation, open
dialogues, and the inbox rows of their chat; the counts the statistics need
(topic, municipality, date) stay, with no link to anyone. With SQLite's
`secure_delete` the removed text is overwritten in the file, and a checkpoint
empties the WAL, so it lingers nowhere on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.storage.database import Database, parse

# Tables and columns that hold text someone wrote (checked by the redaction at start-up).
_TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("questions", "text"), ("consultations", "text"), ("curation_acts", "text"),
)
REDACTION_KEY = "redaction_version"
# Raise when the redaction learns something new, so texts stored before are redacted again.
REDACTION_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Holdings:
    """What Lotsen holds about one user (no texts)."""

    role: str | None
    municipality: str | None
    questions: int
    first_question: datetime | None
    open_consultations: tuple[tuple[str, str], ...]  # (reference, status)


@dataclass(frozen=True, slots=True)
class Forgotten:
    """How much one `forget` removed (counts only)."""

    profile: bool
    questions: int
    consultations: int
    inbox: int


class Subjects:
    """The data subject's rights over one database; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def holdings(self, user_key: str) -> Holdings:
        """The user's profile, how many questions since when, and their consultations not yet handled."""
        profile = await self._db.read("SELECT role, municipality FROM users WHERE user_key = ?", (user_key,))
        counts = await self._db.read(
            "SELECT COUNT(*) AS n, MIN(created) AS first FROM questions WHERE user_key = ?", (user_key,)
        )
        open_rows = await self._db.read(
            "SELECT reference, status FROM consultations WHERE user_key = ? AND status != 'hanterad' ORDER BY id",
            (user_key,),
        )
        return Holdings(
            role=profile[0]["role"] if profile else None,
            municipality=profile[0]["municipality"] if profile else None,
            questions=int(counts[0]["n"]),
            first_question=parse(counts[0]["first"]),
            open_consultations=tuple((r["reference"], r["status"]) for r in open_rows),
        )

    async def forget(self, user_key: str, chat_id: int, keep_update: int | None = None) -> Forgotten:
        """Removes everything that links a user to Lotsen, keeping anonymous counts (module docstring).

        `keep_update` is the inbox row being handled right now (the confirming press): it is
        blanked by the worker when done, like every other.
        """
        async with self._db.write() as conn:
            profile = await conn.execute("DELETE FROM users WHERE user_key = ?", (user_key,))
            await conn.execute(
                "UPDATE curation_acts SET text = NULL WHERE question_id IN (SELECT id FROM questions WHERE user_key = ?)",
                (user_key,),
            )
            questions = await conn.execute(
                "UPDATE questions SET text = NULL, user_key = NULL WHERE user_key = ?", (user_key,)
            )
            consultations = await conn.execute(
                "UPDATE consultations SET text = NULL, reach = NULL, user_key = NULL, chat_id = NULL "
                "WHERE user_key = ? OR chat_id = ?",
                (user_key, chat_id),
            )
            await conn.execute("DELETE FROM dialogues WHERE user_key = ?", (user_key,))
            inbox = await conn.execute(
                """
                DELETE FROM inbox WHERE update_id != ? AND json_valid(payload) AND (
                    json_extract(payload, '$.message.chat.id') = ? OR
                    json_extract(payload, '$.edited_message.chat.id') = ? OR
                    json_extract(payload, '$.callback_query.from.id') = ?)
                """,
                (keep_update if keep_update is not None else -1, chat_id, chat_id, chat_id),
            )
            report = Forgotten(profile.rowcount > 0, questions.rowcount, consultations.rowcount, inbox.rowcount)
        await self._db.checkpoint()
        return report

    async def redact_stored(self, redact: Callable[[str], str]) -> dict[str, int] | None:
        """Redacts every stored text once per REDACTION_VERSION; the changed rows per table, or None if done before.

        Idempotent: a redacted text comes back unchanged, and the version is recorded in
        the same transaction as the changes.
        """
        done = await self._db.read("SELECT value FROM bot_state WHERE key = ?", (REDACTION_KEY,))
        if done and done[0]["value"] == REDACTION_VERSION:
            return None
        changed: dict[str, int] = {}
        async with self._db.write() as conn:
            for table, column in _TEXT_COLUMNS:
                rows = await conn.execute_fetchall(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
                updates = [(new, row["id"]) for row in rows if (new := redact(row[column])) != row[column]]
                await conn.executemany(f"UPDATE {table} SET {column} = ? WHERE id = ?", updates)
                changed[table] = len(updates)
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (REDACTION_KEY, REDACTION_VERSION),
            )
        await self._db.checkpoint()
        return changed
