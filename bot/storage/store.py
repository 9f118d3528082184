"""Lotsen's database as one object: a `Database` and one object per concern that shares it.

    async with await Storage.open(path) as storage:
        await storage.questions.log(...)
        await storage.inbox.store(...)

Privacy rules that the tables rely on (callers keep them):

- Texts arrive already redacted. As a second line of defence, question and
  consultation texts are redacted once more before they are written.
- `user_key` is a keyed pseudonym (`bot.ops.privacy.pseudonym`), never a Telegram id.
- Telegram chat ids are kept only while they are needed: the requester's chat of
  an open consultation, cleared when it is handled or purged.
- `retention.purge()` removes texts and personal links older than the retention
  period and keeps the counts that the statistics need.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from bot.storage.consultations import Consultations
from bot.storage.curation import CurationLog
from bot.storage.database import Database
from bot.storage.inbox import Inbox
from bot.storage.migrations import migrate
from bot.storage.questions import QuestionLog
from bot.storage.retention import Retention
from bot.storage.snapshots import Snapshots
from bot.storage.statistics import Statistics
from bot.storage.subjects import Subjects
from bot.storage.users import Users


class Storage:
    """The database and its concerns. Open with `await Storage.open(path)` (or `async with await …`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.inbox = Inbox(db)
        self.questions = QuestionLog(db)
        self.consultations = Consultations(db)
        self.users = Users(db)
        self.curation = CurationLog(db)
        self.snapshots = Snapshots(db)
        self.statistics = Statistics(db)
        self.retention = Retention(db)
        self.subjects = Subjects(db)

    @classmethod
    async def open(cls, path: Path | str) -> Storage:
        """Opens (or creates) the database and runs pending migrations; StorageError when it cannot."""
        return cls(await Database.open(path, migrate))

    @property
    def path(self) -> Path | str:
        return self.db.path

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
