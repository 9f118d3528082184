"""Faults without floods or loss: a locked or full database, a send outage, restarts in between.

Whatever fails, every user gets at most one answer and at most one "something
went wrong" note per question, and every question is answered once the fault
has passed. The real bot, a real SQLite file, the fake Bot API; a real
`lotsen kor` process where the fault is the process's own (a full disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import sqlite3
import sys
import threading
from collections import Counter

import pytest
from conftest import ADMIN_ID, ROOT
from fakebotapi import FakeBotAPI, FakeUser
from test_bot_run import _env

from bot.telegram.errors import TRY_AGAIN, WILL_RETRY

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"
NOTES = (TRY_AGAIN, WILL_RETRY)


def _answers(user: FakeUser) -> list[str]:
    return [m.text or "" for m in user.messages if m.text not in NOTES]


def _notes(user: FakeUser) -> list[str]:
    return [m.text or "" for m in user.messages if m.text in NOTES]


def _logged(db_path) -> Counter[str]:
    db = sqlite3.connect(db_path)
    try:
        return Counter(text for (text,) in db.execute("SELECT text FROM questions"))
    finally:
        db.close()


def _hold_write_lock(db_path, locked: threading.Event, release: threading.Event) -> None:
    """Another connection (as another process would) takes the write lock and keeps it until released."""
    db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(60)
        db.execute("ROLLBACK")
    finally:
        db.close()


async def test_a_write_lock_held_elsewhere_floods_no_one(fake_api, lotsen):
    """The lock is taken while answers are on their way and held 14 s: one answer each, no note, all logged once."""
    users = [fake_api.user(4100 + i, f"Lärare{i}") for i in range(8)]
    questions = {u.id: f"{QUESTION} (fall {u.id})" for u in users}
    for user in users:
        await user.send(questions[user.id])
    await fake_api.wait_for(lambda: len(fake_api.calls_of("sendMessage")) >= 1, timeout=10)
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(lotsen.services.settings.db_path, locked, release))
    holder.start()
    assert locked.wait(10)  # blocks the loop on purpose: the bot cannot log before the lock is taken
    await asyncio.sleep(14)
    release.set()
    await asyncio.to_thread(holder.join)
    await lotsen.idle(timeout=90)
    await asyncio.sleep(1.5)
    for user in users:
        assert len(_answers(user)) == 1, f"user {user.id} got {len(_answers(user))} answers"
        assert _notes(user) == []
    logged = _logged(lotsen.services.settings.db_path)
    assert all(logged[text] == 1 for text in questions.values()), logged


@pytest.mark.slow
async def test_a_send_outage_of_a_minute_and_a_restart_lose_no_question(fake_api, start_bot, bot_settings):
    """sendMessage answers 500 for 60 s, Lotsen restarts in the middle: afterwards every question answered once."""
    users = [fake_api.user(4200 + i, f"Kurator{i}") for i in range(12)]
    questions = {u.id: f"{QUESTION} (fall {u.id})" for u in users}
    fake_api.fail_for("sendMessage", 500, seconds=60)
    async with start_bot() as bot:
        for user in users[:6]:
            await user.send(questions[user.id])
        await asyncio.sleep(20)
        assert all(not u.messages for u in users)
    async with start_bot() as bot:  # a restart while the outage lasts: nothing pending is given up
        for user in users[6:]:
            await user.send(questions[user.id])
        await fake_api.wait_for(lambda: all(_answers(u) for u in users), timeout=150)
        await bot.idle(timeout=30)
        await asyncio.sleep(1)
    for user in users:
        assert len(_answers(user)) == 1, f"user {user.id}: {[m.text[:40] for m in user.messages]}"
        assert len(_notes(user)) <= 1
        assert all(n == WILL_RETRY for n in _notes(user))  # a passing fault: "I will answer", not "try again"
    logged = _logged(bot_settings.db_path)
    assert all(logged[text] == 1 for text in questions.values()), logged
    db = sqlite3.connect(bot_settings.db_path)
    try:
        rows = db.execute("SELECT status, payload FROM inbox").fetchall()
    finally:
        db.close()
    assert {status for status, _ in rows} == {"done"} and {payload for _, payload in rows} == {""}


def _small_disk(limit: int):  # noqa: ANN202
    """preexec_fn: the child may not write files beyond `limit` bytes (a full disk; Python ignores SIGXFSZ)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
async def test_a_full_disk_floods_no_one_and_tells_the_admins(fake_api: FakeBotAPI, tmp_path):
    """`lotsen kor` whose database cannot grow: answers stop rather than repeat, and the admins are told once."""
    db_path = tmp_path / "lotsen.sqlite3"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--poll-timeout", "1", cwd=ROOT, env=_env(fake_api, db_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=_small_disk(200_000),
    )
    output = asyncio.create_task(process.stdout.read())  # a pipe: the log is not limited by the disk
    admin = fake_api.user(ADMIN_ID)
    users = [fake_api.user(4300 + i, f"Lärare{i}") for i in range(12)]
    try:
        await fake_api.wait_for(lambda: fake_api.calls_of("getUpdates"), timeout=30)
        for user in users:
            await user.send(f"{QUESTION} (fall {user.id})")
            await asyncio.sleep(0.3)
        with contextlib.suppress(TimeoutError):
            await fake_api.wait_for(lambda: any("databasen" in (m.text or "") for m in admin.messages), 60)
        await asyncio.sleep(15)  # the old worker re-sent the answer every second here
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        log = (await output).decode()
    for user in users:
        assert len(_answers(user)) <= 1, f"user {user.id} got {len(_answers(user))} answers\n{log}"
        assert len(_notes(user)) <= 1
    alerts = [m for m in admin.messages if "kan inte skriva i databasen" in (m.text or "")]
    assert len(alerts) == 1, f"{[m.text for m in admin.messages]}\n{log}"
    assert any(not _answers(u) for u in users), "the disk never filled: the test tested nothing"
    assert "Traceback" not in log
    assert "hög frånvaro" not in log


async def test_a_database_that_cannot_be_written_at_start_is_explained_in_swedish(fake_api, tmp_path):
    """No room for the database at start: exit 2 with what to fix, no traceback, never "igång"."""
    db_path = tmp_path / "lotsen.sqlite3"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--poll-timeout", "1", cwd=ROOT, env=_env(fake_api, db_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=_small_disk(16_000),
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert process.returncode == 2, text
    assert "kan inte skriva i databasen" in text and "disken inte är full" in text
    assert "Traceback" not in text and "igång" not in text


async def test_a_deleted_database_stops_intake_and_tells_the_admins(fake_api, lotsen):
    """The database file is deleted under the running bot: nothing is answered without a log, admins are told."""
    anna = fake_api.user(4400)
    assert "skolfrånvaro" in (await anna.ask(QUESTION)).text
    await lotsen.idle()
    lotsen.services.settings.db_path.unlink()
    admin = fake_api.user(ADMIN_ID)
    alert = await admin.next_message(timeout=10)
    assert "borttagen" in alert.text
    update_id = await anna.send(f"{QUESTION} igen")
    await anna.no_more_messages(3)
    assert update_id in fake_api.unconfirmed  # left with Telegram, not taken into a file nobody will read


async def test_an_update_failing_for_a_day_is_given_up_emptied_and_reported(fake_api, lotsen):
    """A question whose retries began 25 h ago fails once more: given up, payload emptied, admins told, user told once."""
    db_path = lotsen.services.settings.db_path
    fake_api.fail_for("sendMessage", 500, seconds=3600)
    olga = fake_api.user(4500, "Olga")
    update_id = await olga.send(QUESTION)
    await fake_api.wait_for(lambda: len(fake_api.calls_of("sendMessage")) >= 4, timeout=20)
    db = sqlite3.connect(db_path)
    try:  # as if the retries had gone on for a day
        db.execute("UPDATE inbox SET first_failure = '2020-01-01T00:00:00+00:00', attempts = 40, "
                   "next_attempt = NULL WHERE update_id = ?", (update_id,))
        db.commit()
    finally:
        db.close()
    fake_api.fail_for("sendMessage", 500, seconds=0)
    fake_api.fail("sendMessage", 500, times=4)  # the last attempt's answer fails; what follows gets through
    report = await fake_api.user(ADMIN_ID).next_message(timeout=30)
    assert "gav upp" in report.text and str(update_id) in report.text and "hög frånvaro" not in report.text
    await lotsen.idle(timeout=30)
    assert [m.text for m in olga.messages] == [TRY_AGAIN]
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT status, payload FROM inbox WHERE update_id = ?", (update_id,)).fetchone()
    finally:
        db.close()
    assert row == ("failed", "")
