"""Storage: the question log, consultations, user profiles and the durable Telegram inbox.

This is the only module that speaks SQL. It keeps one SQLite file and one
aiosqlite connection, and every write is a short explicit transaction
(`BEGIN IMMEDIATE … COMMIT`) taken under an `asyncio.Lock`, because coroutines
that share a connection would otherwise share (and interleave) its transaction.

Privacy rules that the tables rely on (callers keep them):

- Texts arrive already redacted: no personnummer, no bot token. As a second line of
  defence, question and consultation texts are passed through
  `bot.text.personnummer.redact` once more here (the inbox payload is JSON and is not).
- `user_key` is a keyed pseudonym (`bot.ops.privacy.pseudonym`), never a Telegram id.
- Telegram chat ids are kept only while they are needed: the requester's chat of
  an open consultation, cleared when it is handled or purged.
- `purge()` removes texts and personal links older than the retention period
  and keeps the counts that the statistics need.

Times are stored as UTC ISO 8601 strings (`2026-03-02T09:15:00+00:00`), so they
sort and compare as text. A naive `datetime` passed in is taken to be UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from bot.errors import LotsenError
from bot.text import personnummer as pnr

# How sure the router must have been before a question stops counting as "unanswered".
LOW_CONFIDENCE = 0.5
# Kinds that are small talk: declined by the router, but not a question Lotsen missed.
SMALL_TALK_KINDS = ("greeting", "thanks", "empty")
# What a requester can say about how soon they need an answer.
URGENCY_LEVELS = ("akut", "snart", "kan_vanta")
# Consultation life cycle: new -> forwarded to a contact -> handled.
STATUSES = ("ny", "vidarebefordrad", "hanterad")
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
BUSY_TIMEOUT_MS = 5000
OFFSET_KEY = "telegram_offset"

# Columns never exported: pseudonyms, Telegram chat and message ids, idempotency keys.
_PRIVATE_COLUMNS = frozenset(
    {"user_key", "chat_id", "forwarded_chat_id", "forwarded_message_id", "source_key"}
)
_BOOLEAN_COLUMNS = frozenset({"declined", "urgent", "personnummer"})


class StorageError(LotsenError):
    """Raised when the database cannot be opened or has a schema this Lotsen does not know."""


# --------------------------------------------------------------------------- schema

_SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,  -- migration number, 1, 2, 3 …
    description TEXT NOT NULL,
    applied     TEXT NOT NULL         -- UTC ISO time the migration ran
)
"""

_USERS = """
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

_QUESTIONS = """
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

_CONSULTATIONS = """
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

_INBOX = """
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

_BOT_STATE = """
-- bot_state: small named values, e.g. the getUpdates offset ('telegram_offset').
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""

_CONTACT_CHECKS = """
-- contact_checks: a process leader confirmed in Telegram that a contact is still right
-- ('confirmed') or reported that it has changed ('changed'). `lotsen export --kontakter`
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

_CURATION_ACTS = """
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

_KNOWLEDGE_SNAPSHOTS = """
-- knowledge_snapshots: each knowledge base that loaded without errors, so that a broken
-- one at start-up can be replaced by the last good one (bot.ops.snapshot). files is a JSON
-- object {relative path: file text}; only the newest few are kept.
CREATE TABLE knowledge_snapshots (
    hash  TEXT PRIMARY KEY,  -- sha256 over every file's path and text
    saved TEXT NOT NULL,     -- UTC ISO time it last loaded successfully
    files TEXT NOT NULL
)
"""

_DIALOGUES = """
-- dialogues: who is in the middle of a dialogue (e.g. /konsultation), so that after a
-- restart their next message is recognised as part of it and never logged as a question.
-- Only the pseudonym and times; what the user answered stays in memory.
CREATE TABLE dialogues (
    user_key TEXT PRIMARY KEY,
    name     TEXT NOT NULL,  -- the dialogue, e.g. 'konsultation'
    updated  TEXT NOT NULL   -- UTC ISO time of the last step
)
"""

# Numbered migrations. Never edit one that has shipped: add the next number.
# Each runs in its own transaction together with its schema_version row.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "users, questions, consultations, inbox, bot_state",
        (
            _USERS,
            _QUESTIONS,
            "CREATE INDEX questions_created ON questions (created)",
            _CONSULTATIONS,
            "CREATE INDEX consultations_user ON consultations (user_key)",
            "CREATE INDEX consultations_status ON consultations (status)",
            _INBOX,
            "CREATE INDEX inbox_status ON inbox (status, update_id)",
            _BOT_STATE,
        ),
    ),
    (
        2,
        "inbox: retry schedule and the reason an update failed; open dialogues",
        (
            # When the next attempt is due (UTC ISO; NULL = at once), when the first one failed,
            # and why it failed: an error type, or 'quarantined: <reason>' for an update that
            # could not be parsed when it arrived (stored redacted for inspection, never handled).
            "ALTER TABLE inbox ADD COLUMN next_attempt TEXT",
            "ALTER TABLE inbox ADD COLUMN first_failure TEXT",
            "ALTER TABLE inbox ADD COLUMN problem TEXT",
            _DIALOGUES,
        ),
    ),
    (
        3,
        "knowledge_snapshots: the last knowledge bases that loaded without errors",
        (_KNOWLEDGE_SNAPSHOTS,),
    ),
    (
        4,
        "consultations: forward attempts and the one reminder",
        (
            # How often forwarding has failed; the retry job gives up (and tells the admins) after the last try.
            "ALTER TABLE consultations ADD COLUMN forward_attempts INTEGER NOT NULL DEFAULT 0",
            # When the receiving chat was reminded of a request still open after two working days (once).
            "ALTER TABLE consultations ADD COLUMN reminded_at TEXT",
        ),
    ),
    (
        5,
        "contact_checks, curation_acts",
        (
            _CONTACT_CHECKS,
            "CREATE INDEX contact_checks_contact ON contact_checks (contact_id, day)",
            _CURATION_ACTS,
            "CREATE INDEX curation_acts_question ON curation_acts (question_id)",
        ),
    ),
)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What Lotsen remembers about a user: their role and municipality."""

    user_key: str
    role: str | None
    municipality: str | None


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


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A pending update due for handling; `attempts` counts the attempts begun so far."""

    update_id: int
    payload: str
    attempts: int
    first_failure: datetime | None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge removed."""

    cutoff: datetime
    questions_cleared: int = 0
    consultations_cleared: int = 0
    chat_ids_cleared: int = 0
    users_deleted: int = 0
    inbox_pruned: int = 0


# --------------------------------------------------------------------------- helpers


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str:
    return _utc(moment).isoformat(timespec="seconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso_week(created: str) -> str:
    year, week, _ = datetime.fromisoformat(created).isocalendar()
    return f"{year}-W{week:02d}"


def _consultation(row: sqlite3.Row, *, created_new: bool = False, **changes: Any) -> Consultation:
    values = dict(row)
    values.update(changes)
    created = _parse(values["created"])
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
        handled_at=_parse(values["handled_at"]),
        created_new=created_new,
        forward_attempts=values.get("forward_attempts") or 0,
        reminded_at=_parse(values.get("reminded_at")),
    )


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


# --------------------------------------------------------------------------- storage


class Storage:
    """Lotsen's database. Open with `await Storage.open(path)` or `async with await Storage.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, path: Path | str) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path
        self._file_identity = _identity(path)

    # ----------------------------------------------------------------- life cycle

    @classmethod
    async def open(cls, path: Path | str) -> Storage:
        """Opens (or creates) the database, sets the connection pragmas and runs pending migrations."""
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
        storage = cls(db, path)
        try:
            await storage._configure()
            await storage._migrate()
            await storage.check_writable()
            storage._file_identity = _identity(path)
        except sqlite3.Error as exc:
            await db.close()
            raise StorageError(unwritable_hint(path, exc)) from exc
        except BaseException:
            await db.close()
            raise
        return storage

    async def _configure(self) -> None:
        db = self._db
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

    async def _migrate(self) -> None:
        async with self._write() as db:
            await db.execute(_SCHEMA_VERSION_TABLE)
        rows = await self._db.execute_fetchall("SELECT version FROM schema_version")
        applied = {row["version"] for row in rows}
        known = {number for number, _, _ in MIGRATIONS}
        unknown = applied - known
        if unknown:
            raise StorageError(
                f"databasen {self.path} har schemaversion {max(unknown)}, men den här versionen av Lotsen "
                f"känner bara till version {max(known)} — uppdatera Lotsen innan du använder databasen"
            )
        for number, description, statements in MIGRATIONS:
            if number in applied:
                continue
            async with self._write() as db:
                for statement in statements:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)",
                    (number, description, _iso(None)),
                )

    async def close(self) -> None:
        """Closes the connection and stops its worker thread (it would otherwise keep Python from exiting)."""
        async with self._lock:
            await self._db.close()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                # If the rollback fails too, the original error says more.
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # Reads take the lock too, so they never see another coroutine's open transaction.
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def pragmas(self) -> dict[str, Any]:
        """Returns the connection's durability settings (for health checks and tests)."""
        values: dict[str, Any] = {}
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "secure_delete"):
            rows = await self._read(f"PRAGMA {name}")
            values[name] = rows[0][0]
        return values

    # ----------------------------------------------------------------- users

    async def get_user(self, user_key: str) -> UserProfile | None:
        """Returns the user's saved role and municipality, or None for someone new."""
        rows = await self._read(
            "SELECT user_key, role, municipality FROM users WHERE user_key = ?", (user_key,)
        )
        if not rows:
            return None
        row = rows[0]
        return UserProfile(user_key=row["user_key"], role=row["role"], municipality=row["municipality"])

    async def save_user(
        self, user_key: str, *, role: str | None = None, municipality: str | None = None
    ) -> None:
        """Creates or updates a user; only the fields given (not None) change."""
        now = _iso(None)
        async with self._write() as db:
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

    # ----------------------------------------------------------------- questions

    async def log_question(
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
        async with self._write() as db:
            cursor = await db.execute(
                """
                INSERT INTO questions (created, source_key, user_key, municipality, role, text, topics,
                                       top_topic, top_score, declined, kind, urgent, personnummer)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source_key) DO NOTHING
                """,
                (
                    _iso(now),
                    source_key,
                    user_key,
                    municipality,
                    role,
                    pnr.redact(text),
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

    async def question_id_for(self, source_key: str) -> int | None:
        """Returns the id of the question logged under source_key, if any."""
        rows = await self._read("SELECT id FROM questions WHERE source_key = ?", (source_key,))
        return rows[0]["id"] if rows else None

    async def question_by_source(self, source_key: str) -> dict[str, Any] | None:
        """Returns the question logged under source_key as a dict (topics parsed), or None.

        `text` is None once the question has been purged.
        """
        rows = await self._read("SELECT * FROM questions WHERE source_key = ?", (source_key,))
        if not rows:
            return None
        question = dict(rows[0])
        question["topics"] = json.loads(question["topics"])
        for key in _BOOLEAN_COLUMNS:
            question[key] = bool(question[key])
        return question

    async def set_feedback(self, question_id: int, value: int, user_key: str | None = None) -> bool:
        """Records thumbs up (+1) or down (-1); with user_key, only on that user's own question."""
        if value not in (1, -1):
            raise ValueError(f"feedback must be +1 or -1, got {value!r}")
        async with self._write() as db:
            cursor = await db.execute(
                """
                UPDATE questions SET feedback = ?, feedback_at = ?
                WHERE id = ? AND (? IS NULL OR user_key = ?)
                """,
                (value, _iso(None), question_id, user_key, user_key),
            )
            return cursor.rowcount == 1

    # ----------------------------------------------------------------- consultations

    async def create_consultation(
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
        async with self._write() as db:
            cursor = await db.execute(
                """
                INSERT INTO consultations (source_key, created, user_key, chat_id, municipality, topic,
                                           text, urgency, reach, route)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source_key) DO NOTHING
                """,
                (
                    source_key,
                    _iso(now),
                    user_key,
                    chat_id,
                    municipality,
                    topic,
                    pnr.redact(text),
                    urgency,
                    pnr.redact(reach),
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
        async with self._write() as db:
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
        handled_at = _iso(now)
        async with self._write() as db:
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
        async with self._write() as db:
            await db.execute(
                "UPDATE consultations SET forward_attempts = forward_attempts + 1 WHERE reference = ?", (reference,)
            )
            rows = await db.execute_fetchall("SELECT forward_attempts FROM consultations WHERE reference = ?", (reference,))
        rows = list(rows)
        return rows[0][0] if rows else 0

    async def open_consultations(self, status: str | None = None) -> list[Consultation]:
        """Consultations not yet handled (or only those with `status`), oldest first."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        rows = await self._read(
            "SELECT * FROM consultations WHERE (? IS NULL AND status != 'hanterad') OR status = ? ORDER BY id",
            (status, status),
        )
        return [_consultation(row) for row in rows]

    async def reroute_consultation(self, reference: str, municipality: str, route: str) -> Consultation | None:
        """Points an open consultation at another municipality's recipient, to be forwarded anew."""
        async with self._write() as db:
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
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE consultations SET reminded_at = ? WHERE reference = ? AND reminded_at IS NULL",
                (_iso(now), reference),
            )
            return cursor.rowcount == 1

    async def consultations_for(self, user_key: str) -> list[Consultation]:
        """Returns the user's consultations, newest first."""
        rows = await self._read(
            "SELECT * FROM consultations WHERE user_key = ? ORDER BY id DESC", (user_key,)
        )
        return [_consultation(row) for row in rows]

    async def get_consultation(self, reference: str) -> Consultation | None:
        """Returns the consultation with this reference (e.g. 'K-12'), or None."""
        rows = await self._read("SELECT * FROM consultations WHERE reference = ?", (reference,))
        return _consultation(rows[0]) if rows else None

    # ----------------------------------------------------------------- dialogues in progress

    async def dialogue_step(self, user_key: str, name: str, now: datetime | None = None) -> None:
        """Notes that the user is in (or has just taken a step in) the named dialogue."""
        async with self._write() as db:
            await db.execute(
                """
                INSERT INTO dialogues (user_key, name, updated) VALUES (?, ?, ?)
                ON CONFLICT (user_key) DO UPDATE SET name = excluded.name, updated = excluded.updated
                """,
                (user_key, name, _iso(now)),
            )

    async def dialogue_ended(self, user_key: str) -> None:
        """Forgets the user's dialogue (finished, cancelled, timed out or reported lost)."""
        async with self._write() as db:
            await db.execute("DELETE FROM dialogues WHERE user_key = ?", (user_key,))

    async def open_dialogue(self, user_key: str, since: datetime) -> str | None:
        """The name of the user's dialogue if it had a step after `since`, else None."""
        rows = await self._read(
            "SELECT name FROM dialogues WHERE user_key = ? AND updated >= ?", (user_key, _iso(since))
        )
        return rows[0]["name"] if rows else None

    # ----------------------------------------------------------------- inbox (durable polling)

    async def store_updates(
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
        received = _iso(None)
        stored = 0
        async with self._write() as db:
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

    async def pending_updates(self, limit: int = 100) -> list[tuple[int, str]]:
        """Returns updates not yet handled (due or waiting for a retry), oldest first, as (update_id, payload)."""
        rows = await self._read(
            "SELECT update_id, payload FROM inbox WHERE status = 'pending' ORDER BY update_id LIMIT ?",
            (limit,),
        )
        return [(row["update_id"], row["payload"]) for row in rows]

    async def due_updates(self, limit: int = 100, now: datetime | None = None) -> list[InboxItem]:
        """Returns pending updates whose next attempt is due, oldest first."""
        rows = await self._read(
            """
            SELECT update_id, payload, attempts, first_failure FROM inbox
            WHERE status = 'pending' AND (next_attempt IS NULL OR next_attempt <= ?)
            ORDER BY update_id LIMIT ?
            """,
            (_iso(now), limit),
        )
        return [
            InboxItem(row["update_id"], row["payload"], row["attempts"], _parse(row["first_failure"]))
            for row in rows
        ]

    async def begin_update(self, update_id: int) -> bool:
        """Counts an attempt at a pending update; False when it is no longer pending.

        A write, on purpose: an attempt begins only when the database can record it,
        so nothing is sent to a user that could not be logged.
        """
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? AND status = 'pending'",
                (update_id,),
            )
            return cursor.rowcount == 1

    async def mark_update_done(self, update_id: int) -> None:
        """Marks an update handled and blanks its payload (only the id is needed for dedupe)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE inbox SET status = 'done', payload = '', problem = NULL WHERE update_id = ?",
                (update_id,),
            )

    async def retry_update_later(self, update_id: int, next_attempt: datetime, problem: str) -> None:
        """Leaves a failed update pending until `next_attempt`, noting why and when it first failed."""
        async with self._write() as db:
            await db.execute(
                """
                UPDATE inbox SET next_attempt = ?, problem = ?, first_failure = COALESCE(first_failure, ?)
                WHERE update_id = ? AND status = 'pending'
                """,
                (_iso(next_attempt), problem, _iso(None), update_id),
            )

    async def give_up_update(self, update_id: int, problem: str) -> None:
        """Parks an update as failed for good and blanks its payload (the reason stays)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE inbox SET status = 'failed', payload = '', problem = ? WHERE update_id = ?",
                (problem, update_id),
            )

    async def quarantined_count(self) -> int:
        """How many updates the inbox has quarantined (could not be parsed) and still keeps."""
        rows = await self._read(
            "SELECT COUNT(*) FROM inbox WHERE status = 'failed' AND problem LIKE ?", (f"{QUARANTINED}:%",)
        )
        return int(rows[0][0])

    def file_gone(self) -> bool:
        """True when the database file was deleted or replaced since it was opened.

        Writes would then go to a file nobody will ever open again, so nothing
        should be taken in or answered until someone restores it.
        """
        return self._file_identity is not None and _identity(self.path) != self._file_identity

    async def check_writable(self) -> None:
        """Raises sqlite3.Error unless a write transaction can be begun and committed now."""
        async with self._write() as db:
            await db.execute("SELECT 1")

    async def get_offset(self) -> int:
        """Returns the getUpdates offset saved by store_updates (0 before the first batch)."""
        rows = await self._read("SELECT value FROM bot_state WHERE key = ?", (OFFSET_KEY,))
        return int(rows[0]["value"]) if rows else 0

    async def prune_inbox(self, older_than_days: int = INBOX_KEEP_DAYS, now: datetime | None = None) -> int:
        """Deletes handled and failed inbox rows older than the limit; pending ones wait for the worker."""
        cutoff = _iso(_utc(now) - timedelta(days=older_than_days))
        async with self._write() as db:
            cursor = await db.execute(
                "DELETE FROM inbox WHERE status != 'pending' AND received < ?", (cutoff,)
            )
            return cursor.rowcount

    # ----------------------------------------------------------------- curation

    async def stats(self, since: datetime | None = None) -> Stats:
        """Counts questions (since a time, or all; small talk apart) and consultations for /statistik and `lotsen stats`."""
        floor = _iso(since) if since else ""
        questions = await self._read(
            "SELECT created, top_topic, municipality, declined, kind, feedback FROM questions WHERE created >= ?",
            (floor,),
        )
        statuses = await self._read(
            "SELECT status, COUNT(*) AS n FROM consultations WHERE created >= ? GROUP BY status", (floor,)
        )
        open_rows = await self._read("SELECT COUNT(*) FROM consultations WHERE status != 'hanterad'")
        by_topic: Counter[str] = Counter()
        by_municipality: Counter[str] = Counter()
        by_week: Counter[str] = Counter()
        declined = up = down = 0
        small_talk = [row for row in questions if row["kind"] in SMALL_TALK_KINDS]
        questions = [row for row in questions if row["kind"] not in SMALL_TALK_KINDS]
        for row in questions:
            by_municipality[row["municipality"] or "okänd"] += 1
            by_week[_iso_week(row["created"])] += 1
            if row["declined"]:
                declined += 1
            elif row["top_topic"]:
                by_topic[row["top_topic"]] += 1
            if row["feedback"] == 1:
                up += 1
            elif row["feedback"] == -1:
                down += 1
        return Stats(
            since=_utc(since) if since else None,
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

    async def unanswered(self, limit: int = 20) -> list[dict]:
        """Returns the latest declined, low-confidence or 👎 questions that still have their text, newest first."""
        rows = await self._read(
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

    async def export_rows(self, table: str) -> list[dict]:
        """Returns every row of 'questions' or 'consultations' without pseudonyms, chat ids or source keys."""
        if table not in ("questions", "consultations"):
            raise ValueError(f"can only export 'questions' or 'consultations', not {table!r}")
        rows = await self._read(f"SELECT * FROM {table} ORDER BY id")
        exported = []
        for row in rows:
            item: dict[str, Any] = {}
            for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not iterable by key
                if key in _PRIVATE_COLUMNS:
                    continue
                value = row[key]
                if key == "topics":
                    value = json.loads(value)
                elif key in _BOOLEAN_COLUMNS:
                    value = bool(value)
                item[key] = value
            exported.append(item)
        return exported

    async def purge(self, now: datetime, retention_days: int) -> PurgeReport:
        """Removes texts and personal links older than retention_days, keeping the rows for statistics.

        Also forgets the requester's chat of handled consultations, deletes users who
        have been inactive for the whole period, prunes the inbox, and checkpoints the
        WAL so that the old pages are overwritten rather than left in the -wal file.
        """
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        now = _utc(now)
        cutoff_time = now - timedelta(days=retention_days)
        cutoff = _iso(cutoff_time)
        inbox_cutoff = _iso(now - timedelta(days=INBOX_KEEP_DAYS))
        async with self._write() as db:
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
        async with self._lock:
            # Copies the WAL into the main file and truncates it: purged texts no longer
            # sit in old WAL frames (secure_delete then zeroes the freed pages).
            await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return report

    # ----------------------------------------------------------------- lookup by source key (Telegram adapter)

    async def consultation_by_source(self, source_key: str) -> Consultation | None:
        """Returns the consultation created under source_key, if any (a replayed "Skicka" press)."""
        rows = await self._read("SELECT * FROM consultations WHERE source_key = ?", (source_key,))
        return _consultation(rows[0]) if rows else None

    # ----------------------------------------------------------------- process leaders' tools (issue 11)

    async def add_contact_check(self, contact_id: str, action: str, admin_key: str, day: date, now: datetime | None = None) -> int:
        """Records that a process leader confirmed ('confirmed') or flagged ('changed') a contact."""
        if action not in ("confirmed", "changed"):
            raise ValueError(f"action must be 'confirmed' or 'changed', got {action!r}")
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO contact_checks (contact_id, action, day, admin_key, at) VALUES (?, ?, ?, ?, ?)",
                (contact_id, action, day.isoformat(), admin_key, _iso(now)),
            )
            return int(cursor.lastrowid or 0)

    async def contact_confirmations(self) -> dict[str, date]:
        """The latest day each contact was confirmed in Telegram."""
        rows = await self._read(
            "SELECT contact_id, MAX(day) AS day FROM contact_checks WHERE action = 'confirmed' GROUP BY contact_id"
        )
        return {row["contact_id"]: date.fromisoformat(row["day"]) for row in rows}

    async def contacts_reported_changed(self) -> dict[str, date]:
        """Contacts reported as changed and not confirmed since, with the day of the report."""
        rows = await self._read(
            """
            SELECT contact_id, MAX(day) AS day FROM contact_checks c WHERE action = 'changed'
              AND NOT EXISTS (SELECT 1 FROM contact_checks k WHERE k.contact_id = c.contact_id
                              AND k.action = 'confirmed' AND k.id > c.id)
            GROUP BY contact_id
            """
        )
        return {row["contact_id"]: date.fromisoformat(row["day"]) for row in rows}

    async def curation_queue(self, limit: int = 10, since: datetime | None = None) -> list[dict]:
        """Questions to curate, newest first: declined, unsure or 👎, with text, and not yet acted on."""
        rows = await self._read(
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
            (_iso(since) if since else "", *SMALL_TALK_KINDS, LOW_CONFIDENCE, limit),
        )
        out = []
        for row in rows:
            item = dict(row)
            item["topics"] = json.loads(item["topics"])
            out.append(item)
        return out

    async def question_text(self, question_id: int) -> str | None:
        """The (redacted) text of a logged question, or None once purged or unknown."""
        rows = await self._read("SELECT text FROM questions WHERE id = ?", (question_id,))
        return rows[0]["text"] if rows else None

    async def add_curation_act(
        self, question_id: int, action: str, topic: str | None, text: str | None, admin_key: str, now: datetime | None = None
    ) -> int | None:
        """Stores what a process leader did with a question; returns the act's id, None if it already has one."""
        async with self._write() as db:
            active = await db.execute_fetchall(
                "SELECT 1 FROM curation_acts WHERE question_id = ? AND undone_at IS NULL", (question_id,)
            )
            if list(active):
                return None
            cursor = await db.execute(
                "INSERT INTO curation_acts (question_id, action, topic, text, admin_key, at) VALUES (?, ?, ?, ?, ?, ?)",
                (question_id, action, topic, text, admin_key, _iso(now)),
            )
            return int(cursor.lastrowid or 0)

    async def undo_curation_act(self, admin_key: str, act_id: int | None = None, now: datetime | None = None) -> dict | None:
        """Marks an act undone (the given one, or the admin's latest); returns it, or None if there was none."""
        async with self._write() as db:
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
                "UPDATE curation_acts SET undone_at = ?, text = NULL WHERE id = ?", (_iso(now), rows[0]["id"])
            )
        return dict(rows[0])

    async def digest_counts(self, since: datetime) -> dict[str, int]:
        """For the weekly digest: unanswered and 👎 questions since a time, and open consultations."""
        unanswered = await self._read(
            f"""
            SELECT COUNT(*) FROM questions WHERE created >= ? AND declined = 1
              AND kind NOT IN ({", ".join("?" for _ in SMALL_TALK_KINDS)})
            """,
            (_iso(since), *SMALL_TALK_KINDS),
        )
        down = await self._read(
            "SELECT COUNT(*) FROM questions WHERE feedback = -1 AND COALESCE(feedback_at, created) >= ?", (_iso(since),)
        )
        open_rows = await self._read("SELECT COUNT(*) FROM consultations WHERE status != 'hanterad'")
        return {"unanswered": unanswered[0][0], "thumbs_down": down[0][0], "open_consultations": open_rows[0][0]}

    async def report_rows(self, start: datetime, end: datetime) -> tuple[list[dict], list[dict]]:
        """Questions and consultations created in [start, end), without texts or personal links (the report)."""
        questions = await self._read(
            """
            SELECT created, municipality, top_topic, declined, kind, urgent, feedback
            FROM questions WHERE created >= ? AND created < ?
            """,
            (_iso(start), _iso(end)),
        )
        consultations = await self._read(
            "SELECT created, municipality, urgency, status, handled_at FROM consultations WHERE created >= ? AND created < ?",
            (_iso(start), _iso(end)),
        )
        return [dict(r) for r in questions], [dict(r) for r in consultations]

    # ----------------------------------------------------------------- operations (health, snapshots)

    async def set_state(self, key: str, value: str) -> None:
        """Saves a small named value in bot_state (e.g. the heartbeat)."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def get_state(self, key: str) -> str | None:
        """Returns a named value from bot_state, or None."""
        rows = await self._read("SELECT value FROM bot_state WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    async def probe_writable(self, timeout_ms: int = 1000) -> bool:
        """Whether a write transaction can be taken and committed now (waits at most timeout_ms)."""
        async with self._lock:
            try:
                await self._db.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    await self._db.execute(
                        "INSERT INTO bot_state (key, value) VALUES ('health_probe', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (_iso(None),),
                    )
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        await self._db.execute("ROLLBACK")
                    raise
                await self._db.execute("COMMIT")
                return True
            except sqlite3.Error:
                return False
            finally:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def open_inbox_count(self) -> int:
        """How many inbox updates are still pending."""
        rows = await self._read("SELECT COUNT(*) FROM inbox WHERE status = 'pending'")
        return int(rows[0][0])

    async def save_knowledge_snapshot(self, digest: str, files: dict[str, str], keep: int = 3) -> None:
        """Remembers a knowledge base that loaded without errors; keeps the newest `keep`."""
        async with self._write() as db:
            await db.execute(
                """
                INSERT INTO knowledge_snapshots (hash, saved, files) VALUES (?, ?, ?)
                ON CONFLICT (hash) DO UPDATE SET saved = excluded.saved
                """,
                (digest, _iso(None), json.dumps(files, ensure_ascii=False)),
            )
            await db.execute(
                "DELETE FROM knowledge_snapshots WHERE hash NOT IN "
                "(SELECT hash FROM knowledge_snapshots ORDER BY saved DESC, rowid DESC LIMIT ?)",
                (keep,),
            )

    async def latest_knowledge_snapshot(self) -> tuple[str, datetime, dict[str, str]] | None:
        """The newest good knowledge base as (hash, saved, files), or None."""
        rows = await self._read(
            "SELECT hash, saved, files FROM knowledge_snapshots ORDER BY saved DESC, rowid DESC LIMIT 1"
        )
        if not rows:
            return None
        saved = _parse(rows[0]["saved"])
        assert saved is not None
        return rows[0]["hash"], saved, json.loads(rows[0]["files"])


# --------------------------------------------------------------------------- offline operations (CLI)
# `lotsen backup` and `lotsen health` run beside a live bot, in another process, with plain sqlite3.

HEARTBEAT_KEY = "heartbeat"


def _connect_existing(path: Path, timeout: float) -> sqlite3.Connection:
    """Opens an existing database file (never creates one); StorageError when it cannot."""
    if not path.is_file():
        raise StorageError(f"databasen {path} finns inte — ange rätt fil med LOTSEN_DB")
    try:
        return sqlite3.connect(path.absolute().as_uri() + "?mode=rw", uri=True, timeout=timeout,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"kan inte öppna databasen {path}: {exc}") from exc


def backup_database(source: Path, target: Path) -> int:
    """Copies a live database with SQLite's online backup API; returns the copy's question count.

    The copy is written beside the target and renamed into place only after an
    integrity check, so a target file is always a complete, consistent database.
    """
    partial = target.with_name(target.name + ".part")
    src = _connect_existing(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # one step: a consistent snapshot even while the bot writes
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            questions = dst.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"säkerhetskopian av {source} misslyckades: {exc}") from exc
    finally:
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise StorageError(f"säkerhetskopian av {source} klarade inte integritetskontrollen: {check}")
    partial.replace(target)
    return int(questions)


def read_health(path: Path, probe_timeout: float = 1.0) -> dict[str, Any]:
    """What `lotsen health` needs from the database: heartbeat JSON, open inbox rows, writability."""
    db = _connect_existing(path, timeout=probe_timeout)
    try:
        row = db.execute("SELECT value FROM bot_state WHERE key = ?", (HEARTBEAT_KEY,)).fetchone()
        pending = db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            writable = True
        except sqlite3.Error:
            writable = False
    except sqlite3.Error as exc:
        raise StorageError(f"kan inte läsa databasen {path}: {exc}") from exc
    finally:
        db.close()
    return {"heartbeat": json.loads(row[0]) if row else None, "open_inbox": int(pending), "db_writable": writable}
