"""Load: neither a burst from one user nor a slow answer holds up the others, a flood gets one note, SIGTERM is quick.

The real bot against the fake Bot API; a real `lotsen kor` for the stop.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import Counter

import pytest
from test_bot_run import _env, _start

from bot.telegram.inbox import FLOOD_LIMIT, FLOOD_NOTE, FLOODED

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"


def _count(db_path, sql: str, *params: object) -> int:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


async def test_a_burst_of_400_does_not_hold_up_another_user_and_gets_one_note(fake_api, lotsen):
    """Olle sends 400 messages at once; Pia's question is answered while most of Olle's still wait."""
    olle, pia = fake_api.user(9001, "Olle"), fake_api.user(9002, "Pia")
    first = await olle.send(f"{QUESTION} (0)")
    for i in range(1, 400):
        await olle.send(f"{QUESTION} ({i})")
    await olle.next_message(timeout=30)
    await pia.send(QUESTION)
    db_path = lotsen.services.settings.db_path
    await fake_api.wait_for(lambda: bool(pia.messages), timeout=30)
    waiting = _count(db_path, "SELECT COUNT(*) FROM inbox WHERE status = 'pending' AND update_id < ?", first + 400)
    assert waiting > 200, f"only {waiting} of Olle's 400 still waited when Pia was answered"
    await lotsen.idle(timeout=120)
    answers = [m for m in olle.messages if m.text != FLOOD_NOTE]
    assert len(answers) == FLOOD_LIMIT
    assert [m.text for m in olle.messages].count(FLOOD_NOTE) == 1
    skipped = _count(db_path, "SELECT COUNT(*) FROM inbox WHERE status = 'failed' AND problem = ?", FLOODED)
    assert skipped == 400 - FLOOD_LIMIT
    assert len(pia.messages) == 1


async def test_a_slow_answer_holds_up_only_its_own_chat(fake_api, lotsen):
    """Telegram takes seconds over Anna's answer; Pia, who writes meanwhile, is answered at once."""
    anna, pia = fake_api.user(9011, "Anna"), fake_api.user(9012, "Pia")
    fake_api.fail("sendMessage", 502, delay=4.0, chat_id=anna.chat_id)
    await anna.send(QUESTION)
    await fake_api.wait_for(lambda: bool(fake_api.calls_of("sendMessage")), timeout=30)
    await pia.send(QUESTION)
    await fake_api.wait_for(lambda: bool(pia.messages), timeout=3.5)  # before Anna's 4 s are up
    assert not anna.messages  # her answer is still on its way
    await anna.next_message(timeout=30)  # and arrives once Telegram answers again
    await lotsen.idle(timeout=30)
    assert len(anna.messages) == 1 and len(pia.messages) == 1


@pytest.mark.slow
async def test_sigterm_under_load_finishes_what_is_in_hand_and_leaves_the_rest(fake_api, tmp_path):
    """SIGTERM during a burst of 200 questions: exit within 10 s, nothing failed, the rest answered after a restart."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    process = await _start(fake_api, env, log)
    users = [fake_api.user(9100 + i, f"Lärare{i}") for i in range(20)]
    for round_ in range(10):
        for user in users:
            await user.send(f"{QUESTION} ({user.id}-{round_})")
    answered = lambda: sum(len(u.messages) for u in users)  # noqa: E731
    await fake_api.wait_for(lambda: answered() >= 10, timeout=60)
    await fake_api.wait_for(lambda: not fake_api.unconfirmed, timeout=60)
    process.send_signal(signal.SIGTERM)
    returncode = await asyncio.wait_for(process.wait(), timeout=10)
    assert returncode == 0, log.read_text()
    assert _count(db_path, "SELECT COUNT(*) FROM inbox WHERE status = 'failed'") == 0
    assert _count(db_path, "SELECT COUNT(*) FROM inbox WHERE status = 'pending'") > 0, "the stop came too late"
    process = await _start(fake_api, env, log)
    try:
        await fake_api.wait_for(lambda: all(len(u.messages) >= 10 for u in users), timeout=120)
        await asyncio.sleep(1)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
    assert all(len(u.messages) == 10 for u in users)
    db = sqlite3.connect(db_path)
    try:
        logged = Counter(text for (text,) in db.execute("SELECT text FROM questions"))
    finally:
        db.close()
    assert len(logged) == 200 and set(logged.values()) == {1}
