"""Consultation requests: registered with a reference K-<n>, forwarded to a contact or the curators' chat, handled.

The requester's chat id is kept only while the consultation is open.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.database import Database, iso, parse
from bot.text import personnummer
from bot.text.identifiers import redact

# What a requester can say about how soon they need an answer.
URGENCY_LEVELS = ("akut", "snart", "kan_vanta")

# Consultation life cycle: new -> forwarded to a contact -> handled.
STATUSES = ("ny", "vidarebefordrad", "hanterad")

CONSULTATIONS_TABLE = """
-- consultations: a request for a personal contact, forwarded to a contact person or
-- the curators' chat. reference 'K-<id>' is what people quote. chat_id (the
-- requester's chat) is kept only while the consultation is open.
CREATE TABLE consultations (
    id                   INTEGER PRIMARY KEY,
    reference            TEXT UNIQUE,            -- 'K-<id>', set in the inserting transaction
    source_key           TEXT NOT NULL UNIQUE,   -- idempotency key, as in questions
    created              TEXT NOT NULL,
    user_key             TEXT,
    chat_id              INTEGER,
    municipality         TEXT,
    topic                TEXT,
    text                 TEXT,                   -- redacted; NULL after purge
    urgency              TEXT NOT NULL,          -- 'akut', 'snart' or 'kan_vanta'
    reach                TEXT,                   -- how to be reached, redacted; NULL after purge
    route                TEXT NOT NULL,          -- contact id, or 'curator'
    forwarded_chat_id    INTEGER,
    forwarded_message_id INTEGER,
    status               TEXT NOT NULL DEFAULT 'ny'
                         CHECK (status IN ('ny', 'vidarebefordrad', 'hanterad')),
    handled_at           TEXT
)
"""

@dataclass(frozen=True, slots=True)
class Consultation:
    """One consultation request; `created_new` is False when the source_key was seen before."""

    id: int
    reference: str
    created: datetime
    user_key: str | None
    chat_id: int | None
    municipality: str | None
    topic: str | None
    text: str | None
    urgency: str
    reach: str | None
    route: str
    forwarded_chat_id: int | None
    forwarded_message_id: int | None
    status: str
    handled_at: datetime | None
    created_new: bool = False
    forward_attempts: int = 0
    reminded_at: datetime | None = None

def _consultation(row: sqlite3.Row, *, created_new: bool = False, **changes: Any) -> Consultation:
    values = dict(row)
    values.update(changes)
    created = parse(values["created"])
    assert created is not None
    return Consultation(
        id=values["id"],
        reference=values["reference"],
        created=created,
        user_key=values["user_key"],
        chat_id=values["chat_id"],
        municipality=values["municipality"],
        topic=values["topic"],
        text=values["text"],
        urgency=values["urgency"],
        reach=values["reach"],
        route=values["route"],
        forwarded_chat_id=values["forwarded_chat_id"],
        forwarded_message_id=values["forwarded_message_id"],
        status=values["status"],
        handled_at=parse(values["handled_at"]),
        created_new=created_new,
        forward_attempts=values.get("forward_attempts") or 0,
        reminded_at=parse(values.get("reminded_at")),
    )

class Consultations:
    """Consultation requests: registered, forwarded, handled."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        source_key: str,
        user_key: str,
        chat_id: int,
        municipality: str | None,
        topic: str | None,
        text: str,
        urgency: str,
        reach: str,
        route: str,
        now: datetime | None = None,
    ) -> Consultation:
        """Registers a consultation and gives it its reference K-<id>; a repeated source_key returns the first one."""
        async with self._db.write() as db:
            cursor = await db.execute(
                """
                INSERT INTO consultations (source_key, created, user_key, chat_id, municipality, topic,
                                           text, urgency, reach, route)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source_key) DO NOTHING
                """,
                (
                    source_key,
                    iso(now),
                    user_key,
                    chat_id,
                    municipality,
                    topic,
                    redact(text, names_too=False).text,
                    urgency,
                    personnummer.redact(reach),  # how to be reached: the one field that may hold a phone number
                    route,
                ),
            )
            created_new = cursor.rowcount == 1
            if created_new:
                await db.execute(
                    "UPDATE consultations SET reference = 'K-' || id WHERE id = ?", (cursor.lastrowid,)
                )
            rows = await db.execute_fetchall(
                "SELECT * FROM consultations WHERE source_key = ?", (source_key,)
            )
        return _consultation(list(rows)[0], created_new=created_new)

    async def set_forwarded(self, reference: str, chat_id: int, message_id: int | None) -> None:
        """Remembers where the consultation was forwarded; a new one becomes 'vidarebefordrad'.

        message_id is None when the send timed out after reaching Telegram ("maybe delivered").
        """
        async with self._db.write() as db:
            await db.execute(
                """
                UPDATE consultations
                SET forwarded_chat_id = ?, forwarded_message_id = ?,
                    status = CASE WHEN status = 'ny' THEN 'vidarebefordrad' ELSE status END
                WHERE reference = ?
                """,
                (chat_id, message_id, reference),
            )

    async def mark_handled(self, reference: str, now: datetime | None = None) -> Consultation | None:
        """Marks it handled and forgets the requester's chat; returns the row with that chat id, or None if already handled or unknown."""
        handled_at = iso(now)
        async with self._db.write() as db:
            rows = list(
                await db.execute_fetchall("SELECT * FROM consultations WHERE reference = ?", (reference,))
            )
            if not rows or rows[0]["status"] == "hanterad":
                return None
            await db.execute(
                "UPDATE consultations SET status = 'hanterad', handled_at = ?, chat_id = NULL WHERE id = ?",
                (handled_at, rows[0]["id"]),
            )
        return _consultation(rows[0], status="hanterad", handled_at=handled_at)

    async def count_forward_attempt(self, reference: str) -> int:
        """Counts one failed forward; returns how many have failed so far."""
        async with self._db.write() as db:
            await db.execute(
                "UPDATE consultations SET forward_attempts = forward_attempts + 1 WHERE reference = ?", (reference,)
            )
            rows = await db.execute_fetchall("SELECT forward_attempts FROM consultations WHERE reference = ?", (reference,))
        rows = list(rows)
        return rows[0][0] if rows else 0

    async def open(self, status: str | None = None) -> list[Consultation]:
        """Consultations not yet handled (or only those with `status`), oldest first."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        rows = await self._db.read(
            "SELECT * FROM consultations WHERE (? IS NULL AND status != 'hanterad') OR status = ? ORDER BY id",
            (status, status),
        )
        return [_consultation(row) for row in rows]

    async def reroute(self, reference: str, municipality: str, route: str) -> Consultation | None:
        """Points an open consultation at another municipality's recipient, to be forwarded anew."""
        async with self._db.write() as db:
            await db.execute(
                """
                UPDATE consultations
                SET municipality = ?, route = ?, status = 'ny', forwarded_chat_id = NULL,
                    forwarded_message_id = NULL, forward_attempts = 0, reminded_at = NULL
                WHERE reference = ? AND status != 'hanterad'
                """,
                (municipality, route, reference),
            )
            rows = list(await db.execute_fetchall("SELECT * FROM consultations WHERE reference = ?", (reference,)))
        return _consultation(rows[0]) if rows and rows[0]["status"] == "ny" else None

    async def mark_reminded(self, reference: str, now: datetime | None = None) -> bool:
        """Records the one reminder; False when it was already sent."""
        async with self._db.write() as db:
            cursor = await db.execute(
                "UPDATE consultations SET reminded_at = ? WHERE reference = ? AND reminded_at IS NULL",
                (iso(now), reference),
            )
            return cursor.rowcount == 1

    async def of_user(self, user_key: str) -> list[Consultation]:
        """Returns the user's consultations, newest first."""
        rows = await self._db.read(
            "SELECT * FROM consultations WHERE user_key = ? ORDER BY id DESC", (user_key,)
        )
        return [_consultation(row) for row in rows]

    async def get(self, reference: str) -> Consultation | None:
        """Returns the consultation with this reference (e.g. 'K-12'), or None."""
        rows = await self._db.read("SELECT * FROM consultations WHERE reference = ?", (reference,))
        return _consultation(rows[0]) if rows else None

    async def by_source(self, source_key: str) -> Consultation | None:
        """Returns the consultation created under source_key, if any (a replayed "Skicka" press)."""
        rows = await self._db.read("SELECT * FROM consultations WHERE source_key = ?", (source_key,))
        return _consultation(rows[0]) if rows else None
