"""The question and consultation log: durable, idempotent, private after the retention period."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.database import StorageError
from bot.storage.migrations import MIGRATIONS
from bot.storage.store import Storage

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def storage(tmp_path: Path):
    async with await Storage.open(tmp_path / "lotsen.sqlite3") as opened:
        yield opened


async def log(storage: Storage, key: str, **overrides):
    values = dict(
        source_key=key,
        user_key="pseudonym-1",
        municipality="gnesta",
        role="larare",
        text="Elev i åk 2 kan inte sitta still",
        topics=[{"id": "npf", "score": 0.9}],
        declined=False,
        kind="answer",
        urgent=False,
        personnummer=False,
        now=NOW,
    )
    values.update(overrides)
    return await storage.questions.log(**values)


async def consult(storage: Storage, key: str, **overrides):
    values = dict(
        source_key=key,
        user_key="pseudonym-1",
        chat_id=4242,
        municipality="gnesta",
        topic="npf",
        text="Behöver råd om en elev",
        urgency="snart",
        reach="ring skolans växel",
        route="curator",
        now=NOW,
    )
    values.update(overrides)
    return await storage.consultations.create(**values)


def query(path: Path, sql: str, params=()) -> list[tuple]:
    """Reads the database file with a separate, plain sqlite3 connection."""
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


# --------------------------------------------------------------------------- opening


async def test_opening_twice_runs_each_migration_once_and_records_its_number(tmp_path: Path):
    """Every migration is recorded in schema_version; reopening the file applies nothing again."""
    path = tmp_path / "lotsen.sqlite3"
    async with await Storage.open(path):
        pass
    async with await Storage.open(path):
        pass
    versions = [row[0] for row in query(path, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == [number for number, _, _ in MIGRATIONS]
    tables = {row[0] for row in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "questions", "consultations", "inbox", "bot_state", "schema_version"} <= tables


async def test_a_database_from_a_newer_lotsen_is_refused(tmp_path: Path):
    """Opening a file whose schema is newer than the code fails with a Swedish hint instead of guessing."""
    path = tmp_path / "lotsen.sqlite3"
    async with await Storage.open(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (999, 'framtida', '2030-01-01T00:00:00+00:00')")
    with pytest.raises(StorageError, match="uppdatera Lotsen"):
        await Storage.open(path)


async def test_the_database_runs_in_wal_mode_with_full_sync(storage: Storage):
    """WAL + synchronous=FULL, so a commit we have confirmed survives a power loss."""
    pragmas = await storage.db.pragmas()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2  # FULL
    assert pragmas["busy_timeout"] >= 1000
    assert pragmas["foreign_keys"] == 1
    assert pragmas["secure_delete"] == 1


async def test_concurrent_writers_do_not_share_a_transaction(storage: Storage):
    """Many handlers writing at once each get their own transaction and their own K-number."""
    created = await asyncio.gather(
        *(consult(storage, f"tg:{n}") for n in range(30)),
        *(log(storage, f"q:{n}") for n in range(30)),
        *(storage.inbox.store([(n, "{}")], n + 1) for n in range(30)),
    )
    references = {c.reference for c in created[:30]}
    assert len(references) == 30
    assert (await storage.statistics.stats()).questions == 30
    assert len(await storage.inbox.pending()) == 30


# --------------------------------------------------------------------------- users


async def test_saving_a_user_changes_only_the_fields_given(storage: Storage):
    """Choosing a municipality later keeps the role chosen before."""
    assert await storage.users.get("pseudonym-1") is None
    await storage.users.save("pseudonym-1", role="kurator")
    await storage.users.save("pseudonym-1", municipality="flen")
    profile = await storage.users.get("pseudonym-1")
    assert profile is not None
    assert (profile.role, profile.municipality) == ("kurator", "flen")


# --------------------------------------------------------------------------- questions


async def test_a_redelivered_question_is_logged_once(storage: Storage, tmp_path: Path):
    """The same source_key twice gives one row; the second call returns None."""
    first = await log(storage, "tg:1001")
    second = await log(storage, "tg:1001", text="annan text")
    assert isinstance(first, int)
    assert second is None
    assert await storage.questions.id_for("tg:1001") == first
    rows = query(tmp_path / "lotsen.sqlite3", "SELECT text FROM questions")
    assert rows == [("Elev i åk 2 kan inte sitta still",)]


async def test_a_logged_question_can_be_read_back_by_its_source_key(storage: Storage):
    """The clarify buttons re-route the stored text; after purge the text is gone."""
    await log(storage, "tg:77", topics=[{"id": "npf", "score": 0.42}, {"id": "sip", "score": 0.4}])
    question = await storage.questions.by_source("tg:77")
    assert question is not None
    assert (question["text"], question["municipality"], question["top_topic"]) == (
        "Elev i åk 2 kan inte sitta still",
        "gnesta",
        "npf",
    )
    assert question["topics"][1] == {"id": "sip", "score": 0.4}
    assert question["declined"] is False
    assert await storage.questions.by_source("tg:78") is None
    await storage.retention.purge(NOW + timedelta(days=400), retention_days=365)
    purged = await storage.questions.by_source("tg:77")
    assert purged is not None and purged["text"] is None


async def test_feedback_is_recorded_only_for_the_asker(storage: Storage):
    """Thumbs up is saved on the user's own question, and another user's key changes nothing."""
    question = await log(storage, "tg:1")
    assert await storage.questions.set_feedback(question, -1, user_key="someone-else") is False
    assert await storage.questions.set_feedback(question, 1, user_key="pseudonym-1") is True
    stats = await storage.statistics.stats()
    assert (stats.feedback_up, stats.feedback_down) == (1, 0)
    with pytest.raises(ValueError):
        await storage.questions.set_feedback(question, 5)


# --------------------------------------------------------------------------- consultations


async def test_a_redelivered_consultation_keeps_its_first_reference(storage: Storage, tmp_path: Path):
    """Creating with the same source_key twice returns the same K-number and stores one row."""
    first = await consult(storage, "tg:2001")
    again = await consult(storage, "tg:2001")
    assert first.reference == f"K-{first.id}"
    assert first.created_new is True
    assert again.reference == first.reference
    assert again.created_new is False
    assert query(tmp_path / "lotsen.sqlite3", "SELECT COUNT(*) FROM consultations") == [(1,)]
    other = await consult(storage, "tg:2002")
    assert other.reference != first.reference


async def test_a_consultation_goes_from_new_to_forwarded_to_handled(storage: Storage):
    """Handling returns the requester's chat once, then forgets it; handling twice returns None."""
    created = await consult(storage, "tg:3001")
    assert created.status == "ny"
    await storage.consultations.set_forwarded(created.reference, chat_id=-100555, message_id=77)
    forwarded = await storage.consultations.get(created.reference)
    assert forwarded is not None
    assert (forwarded.status, forwarded.forwarded_chat_id, forwarded.forwarded_message_id) == (
        "vidarebefordrad",
        -100555,
        77,
    )
    handled = await storage.consultations.mark_handled(created.reference, now=NOW)
    assert handled is not None
    assert (handled.status, handled.chat_id, handled.handled_at) == ("hanterad", 4242, NOW)
    stored = await storage.consultations.get(created.reference)
    assert stored is not None and stored.chat_id is None
    assert await storage.consultations.mark_handled(created.reference) is None
    assert await storage.consultations.mark_handled("K-999") is None


async def test_consultations_for_lists_a_users_own_newest_first(storage: Storage):
    """A user sees their own consultations, not anyone else's."""
    older = await consult(storage, "tg:1")
    newer = await consult(storage, "tg:2")
    await consult(storage, "tg:3", user_key="pseudonym-2")
    mine = await storage.consultations.of_user("pseudonym-1")
    assert [c.reference for c in mine] == [newer.reference, older.reference]


# --------------------------------------------------------------------------- inbox


async def test_updates_and_offset_are_stored_together_and_redeliveries_skipped(storage: Storage):
    """store_updates saves the batch and the next offset; an update seen before is not stored again."""
    assert await storage.inbox.offset() == 0
    assert await storage.inbox.store([(10, '{"update_id": 10}'), (11, '{"update_id": 11}')], 12) == 2
    assert await storage.inbox.offset() == 12
    assert await storage.inbox.store([(11, '{"update_id": 11}'), (12, '{"update_id": 12}')], 13) == 1
    assert await storage.inbox.offset() == 13
    assert [uid for uid, _ in await storage.inbox.pending()] == [10, 11, 12]

    await storage.inbox.done(10)
    assert [uid for uid, _ in await storage.inbox.pending()] == [11, 12]


async def test_a_batch_is_all_or_nothing(storage: Storage, tmp_path: Path):
    """If one update in a batch cannot be stored, neither the batch nor the new offset is saved."""
    await storage.inbox.store([(1, "{}")], 2)
    with pytest.raises(sqlite3.IntegrityError):
        await storage.inbox.store([(2, "{}"), (3, None)], 4)  # type: ignore[list-item]
    assert await storage.inbox.offset() == 2
    assert [uid for uid, _ in await storage.inbox.pending()] == [1]


async def test_a_failing_update_waits_for_its_retry_then_is_given_up_without_its_payload(storage: Storage, tmp_path):
    """Attempts are counted; a retry waits until due (across a reopen); giving up keeps the reason, not the text."""
    await storage.inbox.store([(5, '{"message": {"text": "hej"}}')], 6)
    assert await storage.inbox.begin(5)
    now = datetime.now(UTC)
    await storage.inbox.retry_later(5, now + timedelta(minutes=5), "NetworkError")
    assert await storage.inbox.due(now=now) == []
    assert [uid for uid, _ in await storage.inbox.pending()] == [5]  # waiting, not dropped
    later = await storage.inbox.due(now=now + timedelta(minutes=6))
    assert [(i.update_id, i.attempts) for i in later] == [(5, 1)]
    assert later[0].first_failure is not None
    await storage.inbox.give_up(5, "NetworkError")
    assert not await storage.inbox.begin(5)  # no longer pending
    assert query(tmp_path / "lotsen.sqlite3", "SELECT status, payload, problem FROM inbox") == [
        ("failed", "", "NetworkError")
    ]


async def test_quarantined_updates_are_kept_for_inspection_and_never_due(storage: Storage, tmp_path):
    """A quarantined update is stored (with the offset) as failed, counted, and never handed to the worker."""
    await storage.inbox.store([(1, "{}")], 3, [(2, '{"update_id":2}', "ogiltig Unicode-text")])
    assert await storage.inbox.offset() == 3
    assert [i.update_id for i in await storage.inbox.due()] == [1]
    assert await storage.inbox.quarantined_count() == 1


async def test_a_done_update_keeps_no_payload(storage: Storage, tmp_path: Path):
    """Once handled, only the update id stays (for dedupe); the message JSON is blanked."""
    await storage.inbox.store([(7, '{"message": {"text": "hej"}}')], 8)
    await storage.inbox.done(7)
    assert query(tmp_path / "lotsen.sqlite3", "SELECT payload, status FROM inbox") == [("", "done")]


# --------------------------------------------------------------------------- retention


async def test_purge_removes_old_texts_and_links_but_keeps_the_counts(storage: Storage, tmp_path: Path):
    """Rows past the retention period lose text, user key and chat ids; statistics still count them."""
    old = NOW - timedelta(days=400)
    await log(storage, "tg:old", now=old)
    await log(storage, "tg:new", now=NOW - timedelta(days=3))
    old_consultation = await consult(storage, "tg:c-old", now=old)
    open_consultation = await consult(storage, "tg:c-open", now=NOW - timedelta(days=2))
    handled = await consult(storage, "tg:c-handled", now=NOW - timedelta(days=2))
    await storage.consultations.mark_handled(handled.reference, now=NOW - timedelta(days=1))

    report = await storage.retention.purge(NOW, retention_days=365)

    assert (report.questions_cleared, report.consultations_cleared) == (1, 1)
    path = tmp_path / "lotsen.sqlite3"
    assert query(path, "SELECT source_key, text IS NULL, user_key IS NULL FROM questions ORDER BY id") == [
        ("tg:old", 1, 1),
        ("tg:new", 0, 0),
    ]
    purged = await storage.consultations.get(old_consultation.reference)
    assert purged is not None
    assert (purged.text, purged.reach, purged.user_key, purged.chat_id) == (None, None, None, None)
    still_open = await storage.consultations.get(open_consultation.reference)
    assert still_open is not None and still_open.chat_id == 4242
    assert (await storage.statistics.stats()).questions == 2
    # Second run finds nothing left to clear.
    again = await storage.retention.purge(NOW, retention_days=365)
    assert (again.questions_cleared, again.consultations_cleared) == (0, 0)


async def test_purge_prunes_the_inbox_after_a_week_and_empties_the_wal(storage: Storage, tmp_path: Path):
    """Handled inbox rows older than seven days are deleted and the -wal file is truncated."""
    await storage.inbox.store([(1, "{}"), (2, "{}")], 3)
    await storage.inbox.done(1)
    report = await storage.retention.purge(datetime.now(UTC) + timedelta(days=8), retention_days=365)
    assert report.inbox_pruned == 1
    assert [uid for uid, _ in await storage.inbox.pending()] == [2]  # pending work is never dropped
    wal = tmp_path / "lotsen.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0


async def test_purge_forgets_users_who_have_been_silent_for_the_whole_period(storage: Storage):
    """A profile untouched for longer than the retention period, with no recent questions, is deleted."""
    await storage.users.save("pseudonym-quiet", role="larare")
    await storage.users.save("pseudonym-1", role="kurator")
    later = datetime.now(UTC) + timedelta(days=400)
    await log(storage, "tg:recent", now=later - timedelta(days=1))
    report = await storage.retention.purge(later, retention_days=365)
    assert report.users_deleted == 1
    assert await storage.users.get("pseudonym-quiet") is None
    assert await storage.users.get("pseudonym-1") is not None


# --------------------------------------------------------------------------- curation


async def test_stats_count_topics_municipalities_weeks_and_misses(storage: Storage):
    """Greetings are not misses; a declined question is; weeks are ISO weeks."""
    await log(storage, "q1")
    await log(storage, "q2", municipality=None, now=NOW + timedelta(days=7))
    await log(storage, "q3", topics=[], declined=True, kind="declined")
    await log(storage, "q4", topics=[], declined=True, kind="greeting", text="hej")
    await consult(storage, "c1")

    stats = await storage.statistics.stats()

    # Questions only: the greeting is counted apart.
    assert (stats.questions, stats.small_talk) == (3, 1)
    assert stats.by_topic == {"npf": 2}
    assert stats.by_municipality == {"gnesta": 2, "okänd": 1}
    assert stats.by_week == {"2026-W10": 2, "2026-W11": 1}
    assert stats.declined == 1
    assert stats.declined_share == pytest.approx(1 / 3)
    assert stats.open_consultations == 1
    assert stats.consultations_by_status == {"ny": 1}
    assert (await storage.statistics.stats(since=NOW + timedelta(days=1))).questions == 1


async def test_unanswered_lists_declined_and_low_confidence_questions(storage: Storage):
    """Declined and unsure (top score below 0.5) questions are listed newest first; small talk is not."""
    await log(storage, "sure", topics=[{"id": "npf", "score": 0.9}])
    await log(
        storage, "unsure", text="osäker", topics=[{"id": "npf", "score": 0.3}], now=NOW + timedelta(minutes=1)
    )
    await log(
        storage,
        "miss",
        text="utanför",
        topics=[],
        declined=True,
        kind="declined",
        now=NOW + timedelta(minutes=2),
    )
    await log(
        storage,
        "hello",
        text="hej",
        topics=[],
        declined=True,
        kind="greeting",
        now=NOW + timedelta(minutes=3),
    )

    rows = await storage.questions.unanswered()

    assert [row["text"] for row in rows] == ["utanför", "osäker"]
    assert rows[1]["top_score"] == pytest.approx(0.3)
    assert len(await storage.questions.unanswered(limit=1)) == 1


async def test_export_leaves_out_pseudonyms_and_chat_ids(storage: Storage):
    """Exported rows carry no user_key, chat ids or source keys; topics come back as a list."""
    await log(storage, "q1")
    created = await consult(storage, "c1")
    await storage.consultations.set_forwarded(created.reference, chat_id=-100555, message_id=77)

    questions = await storage.statistics.export_rows("questions")
    consultations = await storage.statistics.export_rows("consultations")

    assert questions[0]["topics"] == [{"id": "npf", "score": 0.9}]
    assert questions[0]["declined"] is False
    for row in [*questions, *consultations]:
        assert (
            not {"user_key", "chat_id", "forwarded_chat_id", "forwarded_message_id", "source_key"}
            & row.keys()
        )
    assert consultations[0]["reference"] == created.reference
    with pytest.raises(ValueError):
        await storage.statistics.export_rows("users")


async def test_a_personnummer_that_slipped_through_is_never_written(storage: Storage, tmp_path: Path):
    """Even if a caller forgot to redact, question and consultation texts are stored without the number."""
    await log(storage, "tg:pnr", text="Eleven 19121212-1212 är borta", personnummer=True)
    await consult(storage, "tg:pnr-c", text="Gäller 121212-1212", reach="ring 121212-1212s mamma")
    path = tmp_path / "lotsen.sqlite3"
    assert query(path, "SELECT text FROM questions") == [("Eleven [personnummer] är borta",)]
    assert query(path, "SELECT text, reach FROM consultations") == [
        ("Gäller [personnummer]", "ring [personnummer]s mamma")
    ]


async def test_migration_4_adds_forward_attempts_and_reminders_to_an_existing_database(tmp_path: Path):
    """A database made before migration 4 keeps its consultations and gains the retry and reminder columns."""
    path = tmp_path / "lotsen.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)")
        number, description, statements = MIGRATIONS[0]
        for statement in statements:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (number, description, NOW.isoformat()))
        db.execute(
            "INSERT INTO consultations (reference, source_key, created, urgency, route) "
            "VALUES ('K-1', 'tg:1', ?, 'snart', 'curator')",
            (NOW.isoformat(),),
        )
    async with await Storage.open(path) as storage:
        [old] = await storage.consultations.open()
        assert (old.reference, old.forward_attempts, old.reminded_at) == ("K-1", 0, None)
        assert await storage.consultations.count_forward_attempt("K-1") == 1
        assert await storage.consultations.count_forward_attempt("K-1") == 2
        assert await storage.consultations.mark_reminded("K-1", NOW) is True
        assert await storage.consultations.mark_reminded("K-1", NOW) is False
        [again] = await storage.consultations.open("ny")
        assert (again.forward_attempts, again.reminded_at) == (2, NOW)
        await storage.consultations.set_forwarded("K-1", -100, None)
        assert await storage.consultations.open("ny") == []
        rerouted = await storage.consultations.reroute("K-1", "flen", "flen-bup-kontakt")
        assert rerouted is not None and (rerouted.status, rerouted.forwarded_chat_id, rerouted.forward_attempts) == ("ny", None, 0)
        await storage.consultations.mark_handled("K-1")
        assert await storage.consultations.open() == []
        assert await storage.consultations.reroute("K-1", "trosa", "curator") is None
