"""The process leaders' acts: contacts confirmed or reported changed, questions curated in /obesvarade, and the queue to curate.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from bot.storage.database import Database, iso
from bot.storage.questions import LOW_CONFIDENCE, SMALL_TALK_KINDS

CONTACT_CHECKS_TABLE = """
-- contact_checks: a process leader confirmed in Telegram that a contact is still right
-- ('confirmed') or reported that it has changed ('changed'). `lotsen exportera --kontakter`
-- writes the confirmed days back into contacts.yaml as `verified:`.
CREATE TABLE contact_checks (
    id         INTEGER PRIMARY KEY,
    contact_id TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('confirmed', 'changed')),
    day        TEXT NOT NULL,   -- the local day of the check, YYYY-MM-DD
    admin_key  TEXT NOT NULL,   -- pseudonym of the process leader
    at         TEXT NOT NULL
)
"""

CURATION_ACTS_TABLE = """
-- curation_acts: what a process leader did with an unanswered question in /obesvarade:
-- added it as a phrasing of a topic ('topic'), as an off-topic example ('offtopic'), or
-- hid it ('ignore'). text is what went into the learned overlay (NULL for 'ignore'), kept
-- so the act can be undone; undone_at is set by /angra.
CREATE TABLE curation_acts (
    id          INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('topic', 'offtopic', 'ignore')),
    topic       TEXT,
    text        TEXT,
    admin_key   TEXT NOT NULL,
    at          TEXT NOT NULL,
    undone_at   TEXT
)
"""

class CurationLog:
    """What the process leaders did: contact checks and curation acts, and the queue they work from."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_contact_check(self, contact_id: str, action: str, admin_key: str, day: date, now: datetime | None = None) -> int:
        """Records that a process leader confirmed ('confirmed') or flagged ('changed') a contact."""
        if action not in ("confirmed", "changed"):
            raise ValueError(f"action must be 'confirmed' or 'changed', got {action!r}")
        async with self._db.write() as db:
            cursor = await db.execute(
                "INSERT INTO contact_checks (contact_id, action, day, admin_key, at) VALUES (?, ?, ?, ?, ?)",
                (contact_id, action, day.isoformat(), admin_key, iso(now)),
            )
            return int(cursor.lastrowid or 0)

    async def contact_confirmations(self) -> dict[str, date]:
        """The latest day each contact was confirmed in Telegram."""
        rows = await self._db.read(
            "SELECT contact_id, MAX(day) AS day FROM contact_checks WHERE action = 'confirmed' GROUP BY contact_id"
        )
        return {row["contact_id"]: date.fromisoformat(row["day"]) for row in rows}

    async def contacts_reported_changed(self) -> dict[str, date]:
        """Contacts reported as changed and not confirmed since, with the day of the report."""
        rows = await self._db.read(
            """
            SELECT contact_id, MAX(day) AS day FROM contact_checks c WHERE action = 'changed'
              AND NOT EXISTS (SELECT 1 FROM contact_checks k WHERE k.contact_id = c.contact_id
                              AND k.action = 'confirmed' AND k.id > c.id)
            GROUP BY contact_id
            """
        )
        return {row["contact_id"]: date.fromisoformat(row["day"]) for row in rows}

    async def queue(self, limit: int = 10, since: datetime | None = None) -> list[dict]:
        """Questions to curate, newest first: declined, unsure or 👎, with text, and not yet acted on."""
        rows = await self._db.read(
            f"""
            SELECT q.id, q.created, q.municipality, q.text, q.topics, q.top_topic, q.top_score, q.kind,
                   q.declined, q.feedback
            FROM questions q
            WHERE q.text IS NOT NULL AND q.text != '' AND q.created >= ?
              AND q.kind NOT IN ({", ".join("?" for _ in SMALL_TALK_KINDS)})
              AND (q.declined = 1 OR q.top_score IS NULL OR q.top_score < ? OR q.feedback = -1)
              AND NOT EXISTS (SELECT 1 FROM curation_acts a WHERE a.question_id = q.id AND a.undone_at IS NULL)
            ORDER BY q.created DESC, q.id DESC
            LIMIT ?
            """,
            (iso(since) if since else "", *SMALL_TALK_KINDS, LOW_CONFIDENCE, limit),
        )
        out = []
        for row in rows:
            item = dict(row)
            item["topics"] = json.loads(item["topics"])
            out.append(item)
        return out

    async def add_curation_act(
        self, question_id: int, action: str, topic: str | None, text: str | None, admin_key: str, now: datetime | None = None
    ) -> int | None:
        """Stores what a process leader did with a question; returns the act's id, None if it already has one."""
        async with self._db.write() as db:
            active = await db.execute_fetchall(
                "SELECT 1 FROM curation_acts WHERE question_id = ? AND undone_at IS NULL", (question_id,)
            )
            if list(active):
                return None
            cursor = await db.execute(
                "INSERT INTO curation_acts (question_id, action, topic, text, admin_key, at) VALUES (?, ?, ?, ?, ?, ?)",
                (question_id, action, topic, text, admin_key, iso(now)),
            )
            return int(cursor.lastrowid or 0)

    async def undo_curation_act(self, admin_key: str, act_id: int | None = None, now: datetime | None = None) -> dict | None:
        """Marks an act undone (the given one, or the admin's latest); returns it, or None if there was none."""
        async with self._db.write() as db:
            if act_id is None:
                rows = await db.execute_fetchall(
                    "SELECT * FROM curation_acts WHERE admin_key = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
                    (admin_key,),
                )
            else:
                rows = await db.execute_fetchall(
                    "SELECT * FROM curation_acts WHERE id = ? AND undone_at IS NULL", (act_id,)
                )
            rows = list(rows)
            if not rows:
                return None
            # The text is only needed while the act stands; an undone act keeps no question text.
            await db.execute(
                "UPDATE curation_acts SET undone_at = ?, text = NULL WHERE id = ?", (iso(now), rows[0]["id"])
            )
        return dict(rows[0])
