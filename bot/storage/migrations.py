"""Migrations: the numbered schema changes, in one place, run when the database is opened.

Each table's CREATE statement stands beside that table's code (`USERS_TABLE` in
`bot.storage.users`, …); this module lists, in order, what each migration ran.
Never edit a migration that has shipped: add the next number. Each runs in its own
transaction together with its schema_version row.
"""

from __future__ import annotations

from bot.storage.consultations import CONSULTATIONS_TABLE
from bot.storage.curation import CONTACT_CHECKS_TABLE, CURATION_ACTS_TABLE
from bot.storage.database import BOT_STATE_TABLE, Database, StorageError, iso
from bot.storage.inbox import INBOX_TABLE
from bot.storage.questions import QUESTIONS_TABLE
from bot.storage.snapshots import SNAPSHOTS_TABLE
from bot.storage.users import DIALOGUES_TABLE, USERS_TABLE

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,  -- migration number, 1, 2, 3 …
    description TEXT NOT NULL,
    applied     TEXT NOT NULL         -- UTC ISO time the migration ran
)
"""

# Numbered migrations. Never edit one that has shipped: add the next number.
# Each runs in its own transaction together with its schema_version row.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "users, questions, consultations, inbox, bot_state",
        (
            USERS_TABLE,
            QUESTIONS_TABLE,
            "CREATE INDEX questions_created ON questions (created)",
            CONSULTATIONS_TABLE,
            "CREATE INDEX consultations_user ON consultations (user_key)",
            "CREATE INDEX consultations_status ON consultations (status)",
            INBOX_TABLE,
            "CREATE INDEX inbox_status ON inbox (status, update_id)",
            BOT_STATE_TABLE,
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
            DIALOGUES_TABLE,
        ),
    ),
    (
        3,
        "knowledge_snapshots: the last knowledge bases that loaded without errors",
        (SNAPSHOTS_TABLE,),
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
            CONTACT_CHECKS_TABLE,
            "CREATE INDEX contact_checks_contact ON contact_checks (contact_id, day)",
            CURATION_ACTS_TABLE,
            "CREATE INDEX curation_acts_question ON curation_acts (question_id)",
        ),
    ),
)


async def migrate(db: Database) -> None:
    """Runs every migration the database has not had; refuses a database newer than this Lotsen."""
    async with db.write() as conn:
        await conn.execute(SCHEMA_VERSION_TABLE)
    rows = await db.read("SELECT version FROM schema_version")
    applied = {row["version"] for row in rows}
    known = {number for number, _, _ in MIGRATIONS}
    unknown = applied - known
    if unknown:
        raise StorageError(
            f"databasen {db.path} har schemaversion {max(unknown)}, men den här versionen av Lotsen "
            f"känner bara till version {max(known)} — uppdatera Lotsen innan du använder databasen"
        )
    for number, description, statements in MIGRATIONS:
        if number in applied:
            continue
        async with db.write() as conn:
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)",
                (number, description, iso(None)),
            )
