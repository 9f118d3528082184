"""The database: one SQLite file, one aiosqlite connection, one transaction helper, the migrations run at open.

Every write is a short explicit transaction (`BEGIN IMMEDIATE … COMMIT`) taken under an
`asyncio.Lock`, because coroutines that share a connection would otherwise share (and
interleave) its transaction. Times are stored as UTC ISO 8601 strings
(`2026-03-02T09:15:00+00:00`), so they sort and compare as text; a naive `datetime` is
taken to be UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from bot.errors import LotsenError

BUSY_TIMEOUT_MS = 5000

BOT_STATE_TABLE = """
-- bot_state: small named values, e.g. the getUpdates offset ('telegram_offset').
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""


class StorageError(LotsenError):
    """Raised when the database cannot be opened or has a schema this Lotsen does not know."""

def utc(moment: datetime | None) -> datetime:
    """The moment in UTC (now when None; a naive time is taken to be UTC)."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

def iso(moment: datetime | None) -> str:
    """The moment as stored: UTC ISO 8601 to the second."""
    return utc(moment).isoformat(timespec="seconds")

def parse(value: str | None) -> datetime | None:
    """A stored time back as a datetime (None stays None)."""
    return datetime.fromisoformat(value) if value else None

def iso_week(created: str) -> str:
    """The ISO week of a stored time, as "2026-W05"."""
    year, week, _ = datetime.fromisoformat(created).isocalendar()
    return f"{year}-W{week:02d}"

def _identity(path: Path | str) -> tuple[int, int] | None:
    """The file's (device, inode), or None when there is no such file (or it is ':memory:')."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)

def unwritable_hint(path: Path | str, exc: BaseException) -> str:
    """What to fix, in Swedish, when the database cannot be written."""
    where = Path(path).resolve().parent
    return (
        f"kan inte skriva i databasen {path} ({exc}) — kontrollera att filen och katalogen {where} "
        "finns, att Lotsen får skriva i båda (även -wal- och -shm-filerna), att disken inte är full "
        "och att ingen annan process håller databasen låst"
    )

class Database:
    """One SQLite file, one aiosqlite connection, and the one way to write to it (`write`).

    Open with `await Database.open(path)`; the concerns (`bot.storage.inbox`, `…questions` …)
    share it through `bot.storage.store.Storage`.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path | str) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.path = path
        self._file_identity = _identity(path)

    @classmethod
    async def open(cls, path: Path | str, migrate: Callable[[Database], Awaitable[None]] | None = None) -> Database:
        """Opens (or creates) the database, sets the connection pragmas and runs `migrate` (the pending migrations)."""
        try:
            # isolation_level=None: sqlite3 must not open transactions behind our back;
            # every write says BEGIN IMMEDIATE itself, so it takes the write lock up front
            # and never has to upgrade a read lock (which can fail with SQLITE_BUSY).
            db = await aiosqlite.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StorageError(
                f"kan inte öppna databasen {path}: {exc} — finns katalogen och får Lotsen skriva där?"
            ) from exc
        db.row_factory = sqlite3.Row
        database = cls(db, path)
        try:
            await database._configure()
            if migrate is not None:
                await migrate(database)
            await database.check_writable()
            database._file_identity = _identity(path)
        except sqlite3.Error as exc:
            await db.close()
            raise StorageError(unwritable_hint(path, exc)) from exc
        except BaseException:
            await db.close()
            raise
        return database

    async def _configure(self) -> None:
        db = self.conn
        # WAL: readers never block the writer; the setting is stored in the file.
        await db.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: we tell the user "your consultation is registered" and
        # acknowledge updates to Telegram right after our COMMIT. In WAL mode NORMAL
        # may roll back the last commits after a power loss or OS crash, so something
        # we confirmed would be gone. FULL syncs the WAL on every commit; our write
        # rate is a few per minute, so the cost does not matter.
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA foreign_keys=ON")
        # Overwrite deleted content with zeros, so purged texts do not linger in free pages.
        await db.execute("PRAGMA secure_delete=ON")

    async def close(self) -> None:
        """Closes the connection and stops its worker thread (it would otherwise keep Python from exiting)."""
        async with self.lock:
            await self.conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                # If the rollback fails too, the original error says more.
                with contextlib.suppress(sqlite3.Error):
                    await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # Reads take the lock too, so they never see another coroutine's open transaction.
        async with self.lock:
            return list(await self.conn.execute_fetchall(sql, params))

    async def checkpoint(self) -> None:
        """Copies the WAL into the main file and truncates it, so removed texts do not sit in old WAL frames.

        With secure_delete on, the freed pages of the main file are zeroed as well.
        """
        async with self.lock:
            await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def pragmas(self) -> dict[str, Any]:
        """Returns the connection's durability settings (for health checks and tests)."""
        values: dict[str, Any] = {}
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "secure_delete"):
            rows = await self.read(f"PRAGMA {name}")
            values[name] = rows[0][0]
        return values

    def file_gone(self) -> bool:
        """True when the database file was deleted or replaced since it was opened.

        Writes would then go to a file nobody will ever open again, so nothing
        should be taken in or answered until someone restores it.
        """
        return self._file_identity is not None and _identity(self.path) != self._file_identity

    async def check_writable(self) -> None:
        """Raises sqlite3.Error unless a write transaction can be begun and committed now."""
        async with self.write() as db:
            await db.execute("SELECT 1")

    async def probe_writable(self, timeout_ms: int = 1000) -> bool:
        """Whether a write transaction can be taken and committed now (waits at most timeout_ms)."""
        async with self.lock:
            try:
                await self.conn.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    await self.conn.execute(
                        "INSERT INTO bot_state (key, value) VALUES ('health_probe', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (iso(None),),
                    )
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
                return True
            except sqlite3.Error:
                return False
            finally:
                with contextlib.suppress(sqlite3.Error):
                    await self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def set_state(self, key: str, value: str) -> None:
        """Saves a small named value in bot_state (e.g. the heartbeat)."""
        async with self.write() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def get_state(self, key: str) -> str | None:
        """Returns a named value from bot_state, or None."""
        rows = await self.read("SELECT value FROM bot_state WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None
