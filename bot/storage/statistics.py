"""Counts and rows for the process leaders: statistics, the weekly digest, the steering group's report and exports.

Nothing here returns a pseudonym, a chat id or a source key.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.storage.database import Database, iso, iso_week, utc
from bot.storage.questions import BOOLEAN_COLUMNS, SMALL_TALK_KINDS

# Columns never exported: pseudonyms, Telegram chat and message ids, idempotency keys.
PRIVATE_COLUMNS = frozenset(
    {"user_key", "chat_id", "forwarded_chat_id", "forwarded_message_id", "source_key"}
)

@dataclass(frozen=True, slots=True)
class Stats:
    """Counts for the process leaders: questions only; greetings, thanks and empty messages are `small_talk`."""

    since: datetime | None
    questions: int
    by_topic: dict[str, int] = field(default_factory=dict)
    by_municipality: dict[str, int] = field(default_factory=dict)  # "okänd" when not known
    by_week: dict[str, int] = field(default_factory=dict)  # ISO week "2026-W05", in order
    declined: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    open_consultations: int = 0
    consultations_by_status: dict[str, int] = field(default_factory=dict)
    small_talk: int = 0  # greetings, thanks and empty messages (not questions)

    @property
    def declined_share(self) -> float:
        """Declined questions as a share (0..1) of all logged questions."""
        return self.declined / self.questions if self.questions else 0.0

class Statistics:
    """Counts and rows for the process leaders: statistics, the digest, the report, exports."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def stats(self, since: datetime | None = None) -> Stats:
        """Counts questions (since a time, or all; small talk apart) and consultations for /statistik and `lotsen statistik`."""
        floor = iso(since) if since else ""
        questions = await self._db.read(
            "SELECT created, top_topic, municipality, declined, kind, feedback FROM questions WHERE created >= ?",
            (floor,),
        )
        statuses = await self._db.read(
            "SELECT status, COUNT(*) AS n FROM consultations WHERE created >= ? GROUP BY status", (floor,)
        )
        open_rows = await self._db.read("SELECT COUNT(*) FROM consultations WHERE status != 'hanterad'")
        by_topic: Counter[str] = Counter()
        by_municipality: Counter[str] = Counter()
        by_week: Counter[str] = Counter()
        declined = up = down = 0
        small_talk = [row for row in questions if row["kind"] in SMALL_TALK_KINDS]
        questions = [row for row in questions if row["kind"] not in SMALL_TALK_KINDS]
        for row in questions:
            by_municipality[row["municipality"] or "okänd"] += 1
            by_week[iso_week(row["created"])] += 1
            if row["declined"]:
                declined += 1
            elif row["top_topic"]:
                by_topic[row["top_topic"]] += 1
            if row["feedback"] == 1:
                up += 1
            elif row["feedback"] == -1:
                down += 1
        return Stats(
            since=utc(since) if since else None,
            questions=len(questions),
            by_topic=dict(by_topic.most_common()),
            by_municipality=dict(by_municipality.most_common()),
            by_week=dict(sorted(by_week.items())),
            declined=declined,
            feedback_up=up,
            feedback_down=down,
            open_consultations=open_rows[0][0],
            small_talk=len(small_talk),
            consultations_by_status={row["status"]: row["n"] for row in statuses},
        )

    async def digest_counts(self, since: datetime) -> dict[str, int]:
        """For the weekly digest: unanswered and 👎 questions since a time, and open consultations."""
        unanswered = await self._db.read(
            f"""
            SELECT COUNT(*) FROM questions WHERE created >= ? AND declined = 1
              AND kind NOT IN ({", ".join("?" for _ in SMALL_TALK_KINDS)})
            """,
            (iso(since), *SMALL_TALK_KINDS),
        )
        down = await self._db.read(
            "SELECT COUNT(*) FROM questions WHERE feedback = -1 AND COALESCE(feedback_at, created) >= ?", (iso(since),)
        )
        open_rows = await self._db.read("SELECT COUNT(*) FROM consultations WHERE status != 'hanterad'")
        return {"unanswered": unanswered[0][0], "thumbs_down": down[0][0], "open_consultations": open_rows[0][0]}

    async def report_rows(self, start: datetime, end: datetime) -> tuple[list[dict], list[dict]]:
        """Questions and consultations created in [start, end), without texts or personal links (the report)."""
        questions = await self._db.read(
            """
            SELECT created, municipality, top_topic, declined, kind, urgent, feedback
            FROM questions WHERE created >= ? AND created < ?
            """,
            (iso(start), iso(end)),
        )
        consultations = await self._db.read(
            "SELECT created, municipality, urgency, status, handled_at FROM consultations WHERE created >= ? AND created < ?",
            (iso(start), iso(end)),
        )
        return [dict(r) for r in questions], [dict(r) for r in consultations]

    async def export_rows(self, table: str) -> list[dict]:
        """Returns every row of 'questions' or 'consultations' without pseudonyms, chat ids or source keys."""
        if table not in ("questions", "consultations"):
            raise ValueError(f"can only export 'questions' or 'consultations', not {table!r}")
        rows = await self._db.read(f"SELECT * FROM {table} ORDER BY id")
        exported = []
        for row in rows:
            item: dict[str, Any] = {}
            for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not iterable by key
                if key in PRIVATE_COLUMNS:
                    continue
                value = row[key]
                if key == "topics":
                    value = json.loads(value)
                elif key in BOOLEAN_COLUMNS:
                    value = bool(value)
                item[key] = value
            exported.append(item)
        return exported
