"""What is kept and for how long: the purge that removes texts and personal links after the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.database import Database, iso, utc
from bot.storage.inbox import INBOX_KEEP_DAYS


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge removed."""

    cutoff: datetime
    questions_cleared: int = 0
    consultations_cleared: int = 0
    chat_ids_cleared: int = 0
    users_deleted: int = 0
    inbox_pruned: int = 0

class Retention:
    """What is kept and for how long: the purge after the retention period."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge(self, now: datetime, retention_days: int) -> PurgeReport:
        """Removes texts and personal links older than retention_days, keeping the rows for statistics.

        Also forgets the requester's chat of handled consultations, deletes users who
        have been inactive for the whole period, prunes the inbox, and checkpoints the
        WAL so that the old pages are overwritten rather than left in the -wal file.
        """
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        now = utc(now)
        cutoff_time = now - timedelta(days=retention_days)
        cutoff = iso(cutoff_time)
        inbox_cutoff = iso(now - timedelta(days=INBOX_KEEP_DAYS))
        async with self._db.write() as db:
            questions = await db.execute(
                """
                UPDATE questions SET text = NULL, user_key = NULL
                WHERE created < ? AND (text IS NOT NULL OR user_key IS NOT NULL)
                """,
                (cutoff,),
            )
            consultations = await db.execute(
                """
                UPDATE consultations
                SET text = NULL, reach = NULL, user_key = NULL, chat_id = NULL,
                    forwarded_chat_id = NULL, forwarded_message_id = NULL
                WHERE created < ?
                  AND (text IS NOT NULL OR reach IS NOT NULL OR user_key IS NOT NULL OR chat_id IS NOT NULL
                       OR forwarded_chat_id IS NOT NULL OR forwarded_message_id IS NOT NULL)
                """,
                (cutoff,),
            )
            chats = await db.execute(
                "UPDATE consultations SET chat_id = NULL WHERE status = 'hanterad' AND chat_id IS NOT NULL"
            )
            users = await db.execute(
                """
                DELETE FROM users
                WHERE updated < ?
                  AND user_key NOT IN (SELECT user_key FROM questions WHERE user_key IS NOT NULL)
                  AND user_key NOT IN (SELECT user_key FROM consultations WHERE user_key IS NOT NULL)
                """,
                (cutoff,),
            )
            inbox = await db.execute(
                "DELETE FROM inbox WHERE status != 'pending' AND received < ?", (inbox_cutoff,)
            )
            await db.execute("DELETE FROM dialogues WHERE updated < ?", (inbox_cutoff,))
            report = PurgeReport(
                cutoff=cutoff_time,
                questions_cleared=questions.rowcount,
                consultations_cleared=consultations.rowcount,
                chat_ids_cleared=chats.rowcount,
                users_deleted=users.rowcount,
                inbox_pruned=inbox.rowcount,
            )
        await self._db.checkpoint()
        return report
