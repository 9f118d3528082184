"""The durable inbox: Telegram updates stored before Telegram is told they arrived, until they are handled.

payload is the update JSON, already redacted; it is blanked when the update is done and the row pruned after a week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.database import Database, iso, parse, utc

# A failed inbox update is retried by the worker until it has failed this many times
# (a permanent error: a bug, a 400); a passing fault (network, 5xx, a locked or full
# database) is retried with backoff for RETRY_FOR before it is given up.
MAX_UPDATE_ATTEMPTS = 3

RETRY_FOR = timedelta(hours=24)

# inbox.problem of an update that could not be parsed when it arrived (never handled).
QUARANTINED = "quarantined"

# Telegram picks update ids at random after a week without updates, so dedupe rows
# older than that can only cause false "already seen" hits.
INBOX_KEEP_DAYS = 7

OFFSET_KEY = "telegram_offset"

INBOX_TABLE = """
-- inbox: Telegram updates stored before they are acknowledged, so that none is lost
-- if the bot dies between getUpdates and handling. payload is the update JSON with
-- personnummer already removed; it is blanked when the update is done and the row
-- is pruned after a week.
CREATE TABLE inbox (
    update_id INTEGER PRIMARY KEY,
    received  TEXT NOT NULL,
    payload   TEXT NOT NULL,
    status    TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts  INTEGER NOT NULL DEFAULT 0
)
"""

@dataclass(frozen=True, slots=True)
class InboxItem:
    """A pending update due for handling; `attempts` counts the attempts begun so far."""

    update_id: int
    payload: str
    attempts: int
    first_failure: datetime | None

class Inbox:
    """The durable inbox: Telegram updates stored before they are acknowledged, until handled."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def store(
        self,
        batch: list[tuple[int, str]],
        next_offset: int,
        quarantined: Sequence[tuple[int, str, str]] = (),
    ) -> int:
        """Stores fetched updates and the next getUpdates offset in one transaction; returns how many were new.

        Call it before the next getUpdates, which acknowledges the batch to Telegram.
        An update_id already in the inbox is a redelivery and is skipped. `quarantined`
        holds (update_id, redacted payload, reason) of updates that could not be parsed:
        they are stored as failed, for inspection, and never handled.
        """
        received = iso(None)
        stored = 0
        async with self._db.write() as db:
            for update_id, payload in batch:
                cursor = await db.execute(
                    """
                    INSERT INTO inbox (update_id, received, payload) VALUES (?, ?, ?)
                    ON CONFLICT (update_id) DO NOTHING
                    """,
                    (update_id, received, payload),
                )
                stored += cursor.rowcount
            for update_id, payload, reason in quarantined:
                await db.execute(
                    """
                    INSERT INTO inbox (update_id, received, payload, status, problem)
                    VALUES (?, ?, ?, 'failed', ?) ON CONFLICT (update_id) DO NOTHING
                    """,
                    (update_id, received, payload, f"{QUARANTINED}: {reason}"),
                )
            await db.execute(
                """
                INSERT INTO bot_state (key, value) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """,
                (OFFSET_KEY, str(next_offset)),
            )
        return stored

    async def pending(self, limit: int = 100) -> list[tuple[int, str]]:
        """Returns updates not yet handled (due or waiting for a retry), oldest first, as (update_id, payload)."""
        rows = await self._db.read(
            "SELECT update_id, payload FROM inbox WHERE status = 'pending' ORDER BY update_id LIMIT ?",
            (limit,),
        )
        return [(row["update_id"], row["payload"]) for row in rows]

    async def due(self, limit: int = 100, now: datetime | None = None) -> list[InboxItem]:
        """Returns pending updates whose next attempt is due, oldest first."""
        rows = await self._db.read(
            """
            SELECT update_id, payload, attempts, first_failure FROM inbox
            WHERE status = 'pending' AND (next_attempt IS NULL OR next_attempt <= ?)
            ORDER BY update_id LIMIT ?
            """,
            (iso(now), limit),
        )
        return [
            InboxItem(row["update_id"], row["payload"], row["attempts"], parse(row["first_failure"]))
            for row in rows
        ]

    async def begin(self, update_id: int) -> bool:
        """Counts an attempt at a pending update; False when it is no longer pending.

        A write, on purpose: an attempt begins only when the database can record it,
        so nothing is sent to a user that could not be logged.
        """
        async with self._db.write() as db:
            cursor = await db.execute(
                "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? AND status = 'pending'",
                (update_id,),
            )
            return cursor.rowcount == 1

    async def done(self, update_id: int) -> None:
        """Marks an update handled and blanks its payload (only the id is needed for dedupe)."""
        async with self._db.write() as db:
            await db.execute(
                "UPDATE inbox SET status = 'done', payload = '', problem = NULL WHERE update_id = ?",
                (update_id,),
            )

    async def retry_later(self, update_id: int, next_attempt: datetime, problem: str) -> None:
        """Leaves a failed update pending until `next_attempt`, noting why and when it first failed."""
        async with self._db.write() as db:
            await db.execute(
                """
                UPDATE inbox SET next_attempt = ?, problem = ?, first_failure = COALESCE(first_failure, ?)
                WHERE update_id = ? AND status = 'pending'
                """,
                (iso(next_attempt), problem, iso(None), update_id),
            )

    async def give_up(self, update_id: int, problem: str) -> None:
        """Parks an update as failed for good and blanks its payload (the reason stays)."""
        async with self._db.write() as db:
            await db.execute(
                "UPDATE inbox SET status = 'failed', payload = '', problem = ? WHERE update_id = ?",
                (problem, update_id),
            )

    async def quarantined_count(self) -> int:
        """How many updates the inbox has quarantined (could not be parsed) and still keeps."""
        rows = await self._db.read(
            "SELECT COUNT(*) FROM inbox WHERE status = 'failed' AND problem LIKE ?", (f"{QUARANTINED}:%",)
        )
        return int(rows[0][0])

    async def offset(self) -> int:
        """Returns the getUpdates offset saved by store_updates (0 before the first batch)."""
        rows = await self._db.read("SELECT value FROM bot_state WHERE key = ?", (OFFSET_KEY,))
        return int(rows[0]["value"]) if rows else 0

    async def prune(self, older_than_days: int = INBOX_KEEP_DAYS, now: datetime | None = None) -> int:
        """Deletes handled and failed inbox rows older than the limit; pending ones wait for the worker."""
        cutoff = iso(utc(now) - timedelta(days=older_than_days))
        async with self._db.write() as db:
            cursor = await db.execute(
                "DELETE FROM inbox WHERE status != 'pending' AND received < ?", (cutoff,)
            )
            return cursor.rowcount

    async def open_count(self) -> int:
        """How many inbox updates are still pending."""
        rows = await self._db.read("SELECT COUNT(*) FROM inbox WHERE status = 'pending'")
        return int(rows[0][0])
