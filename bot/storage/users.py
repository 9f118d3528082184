"""Users and dialogues: what Lotsen remembers about a person (role, municipality) and who is mid-dialogue.

user_key is always a keyed pseudonym (`bot.ops.privacy.pseudonym`), never a Telegram id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.database import Database, iso

USERS_TABLE = """
-- users: one row per person who has told Lotsen their role or municipality.
-- user_key is an HMAC pseudonym of the Telegram user id (bot.ops.privacy.pseudonym);
-- the Telegram id itself is never stored.
CREATE TABLE users (
    user_key     TEXT PRIMARY KEY,
    role         TEXT,               -- e.g. 'larare', 'kurator'; NULL until chosen
    municipality TEXT,               -- municipality id, e.g. 'gnesta'; NULL until chosen
    created      TEXT NOT NULL,
    updated      TEXT NOT NULL
)
"""

DIALOGUES_TABLE = """
-- dialogues: who is in the middle of a dialogue (e.g. /konsultation), so that after a
-- restart their next message is recognised as part of it and never logged as a question.
-- Only the pseudonym and times; what the user answered stays in memory.
CREATE TABLE dialogues (
    user_key TEXT PRIMARY KEY,
    name     TEXT NOT NULL,  -- the dialogue, e.g. 'konsultation'
    updated  TEXT NOT NULL   -- UTC ISO time of the last step
)
"""

@dataclass(frozen=True, slots=True)
class UserProfile:
    """What Lotsen remembers about a user: their role and municipality."""

    user_key: str
    role: str | None
    municipality: str | None

class Users:
    """Who uses Lotsen: role and municipality per pseudonym, and who is in the middle of a dialogue."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_key: str) -> UserProfile | None:
        """Returns the user's saved role and municipality, or None for someone new."""
        rows = await self._db.read(
            "SELECT user_key, role, municipality FROM users WHERE user_key = ?", (user_key,)
        )
        if not rows:
            return None
        row = rows[0]
        return UserProfile(user_key=row["user_key"], role=row["role"], municipality=row["municipality"])

    async def save(
        self, user_key: str, *, role: str | None = None, municipality: str | None = None
    ) -> None:
        """Creates or updates a user; only the fields given (not None) change."""
        now = iso(None)
        async with self._db.write() as db:
            await db.execute(
                """
                INSERT INTO users (user_key, role, municipality, created, updated) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (user_key) DO UPDATE SET
                    role = COALESCE(excluded.role, users.role),
                    municipality = COALESCE(excluded.municipality, users.municipality),
                    updated = excluded.updated
                """,
                (user_key, role, municipality, now, now),
            )

    async def dialogue_step(self, user_key: str, name: str, now: datetime | None = None) -> None:
        """Notes that the user is in (or has just taken a step in) the named dialogue."""
        async with self._db.write() as db:
            await db.execute(
                """
                INSERT INTO dialogues (user_key, name, updated) VALUES (?, ?, ?)
                ON CONFLICT (user_key) DO UPDATE SET name = excluded.name, updated = excluded.updated
                """,
                (user_key, name, iso(now)),
            )

    async def dialogue_ended(self, user_key: str) -> None:
        """Forgets the user's dialogue (finished, cancelled, timed out or reported lost)."""
        async with self._db.write() as db:
            await db.execute("DELETE FROM dialogues WHERE user_key = ?", (user_key,))

    async def open_dialogue(self, user_key: str, since: datetime) -> str | None:
        """The name of the user's dialogue if it had a step after `since`, else None."""
        rows = await self._db.read(
            "SELECT name FROM dialogues WHERE user_key = ? AND updated >= ?", (user_key, iso(since))
        )
        return rows[0]["name"] if rows else None
