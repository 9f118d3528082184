"""`lotsen kor` as a real process: missing token, clean stop on SIGTERM, and surviving SIGKILL.

The kill test is the durability promise end to end: a burst of questions and
consultation dialogues, `kill -9` in the middle, a restart on the same
database — and afterwards every consultation a user was told about is stored
exactly once, no question is logged twice, and every question got an answer.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import ADMIN_ID, CURATOR_CHAT, ROOT, TEST_SECRET
from fakebotapi import TOKEN, FakeBotAPI, FakeUser

QUESTION_USERS = 8
QUESTIONS_EACH = 4
CONSULTATION_USERS = 4


def _env(fake_api: FakeBotAPI, db_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env.update(
        LOTSEN_TELEGRAM_TOKEN=TOKEN,
        LOTSEN_BOT_API_URL=fake_api.base_url,
        LOTSEN_DB=str(db_path),
        LOTSEN_SECRET=TEST_SECRET,
        LOTSEN_ADMINS=str(ADMIN_ID),
        LOTSEN_CURATOR_CHAT=str(CURATOR_CHAT),
        LOTSEN_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


async def _start(fake_api: FakeBotAPI, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Starts `python -m bot run` and waits until it polls."""
    polls_before = len(fake_api.calls_of("getUpdates"))
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--poll-timeout", "1",
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )
    await fake_api.wait_for(lambda: len(fake_api.calls_of("getUpdates")) > polls_before, timeout=30)
    return process


async def test_run_without_a_token_explains_how_to_get_one(tmp_path):
    """No LOTSEN_TELEGRAM_TOKEN: a Swedish and English hint about @BotFather, and a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env["LOTSEN_DB"] = str(tmp_path / "x.sqlite3")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode != 0
    text = err.decode()
    assert "@BotFather" in text and "saknas" in text and "is not set" in text


async def _until_summary(user: FakeUser, about: str) -> object | None:
    """Runs a consultation dialogue up to the summary; None when a reply was not the expected one."""
    try:
        start = await user.ask("/konsultation", timeout=30)
        if "Konsultation" not in (start.text or ""):
            return None
        ask_urgency = await user.ask(about, timeout=30)
        if not ask_urgency.buttons() or not ask_urgency.buttons()[0][1].startswith("urg:"):
            return None
        ask_reach = await user.click(ask_urgency, "urg:snart", timeout=30)
        if "Hur når" not in (ask_reach.text or ""):
            return None
        summary = await user.ask("Ring expeditionen, vardagar", timeout=30)
    except AssertionError:
        return None  # no reply in time
    return summary if "kons_ok" in [d for _, d in summary.buttons()] else None


async def _confirmation(user: FakeUser, about: str, confirmed: dict[str, str], timeout: float = 60) -> None:
    """Waits for the reply to "Skicka"; records about -> reference when the user is told one."""
    try:
        reply = await user.next_message(timeout=timeout)
    except AssertionError:
        return
    match = re.search(r"<b>(K-\d+)</b>", reply.text or "")
    if match:
        confirmed[about] = match.group(1)


async def _consult(user: FakeUser, about: str, confirmed: dict[str, str]) -> None:
    """One whole consultation dialogue."""
    summary = await _until_summary(user, about)
    if summary is not None:
        await user.press(summary, "kons_ok")
        await _confirmation(user, about, confirmed)


@pytest.mark.slow
async def test_sigkill_in_the_middle_loses_nothing_and_duplicates_nothing(fake_api, tmp_path):
    """kill -9 during a burst, restart: every confirmed consultation once, every question logged once and answered."""
    db_path = tmp_path / "lotsen.sqlite3"
    log = tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    process = await _start(fake_api, env, log)

    askers = [fake_api.user(20_000 + i, f"Lärare{i}") for i in range(QUESTION_USERS)]
    consulters = [fake_api.user(30_000 + i, f"Kurator{i}") for i in range(3 * CONSULTATION_USERS)]
    about = [f"Konsultation {i}: elev i åk {i % 6 + 4} med utbrott och oro" for i in range(len(consulters))]
    confirmed: dict[str, str] = {}

    # Before the burst: some dialogues complete, others stop at the summary.
    group = CONSULTATION_USERS
    await asyncio.gather(*(_consult(consulters[i], about[i], confirmed) for i in range(group)))
    before_kill = dict(confirmed)
    assert len(before_kill) == group
    summaries = await asyncio.gather(*(_until_summary(consulters[i], about[i]) for i in range(group, 2 * group)))
    assert all(summaries)

    # The burst: questions from many users, with the "Skicka" presses in the middle of it.
    sent_questions: list[str] = []
    in_flight: list[asyncio.Task] = []
    for round_ in range(QUESTIONS_EACH):
        for i, user in enumerate(askers):
            text = f"Eleven har hög frånvaro och vill inte komma till skolan (fall {i}-{round_})"
            sent_questions.append(text)
            await user.send(text)
        if round_ == 1:
            for i, summary in zip(range(group, 2 * group), summaries, strict=True):
                await consulters[i].press(summary, "kons_ok")
                in_flight.append(asyncio.create_task(_confirmation(consulters[i], about[i], confirmed)))
        await asyncio.sleep(0.05)

    # Kill -9 while the burst is being answered.
    answered = lambda: sum(len(u.messages) for u in askers)  # noqa: E731
    await fake_api.wait_for(lambda: answered() >= len(sent_questions) // 3, timeout=30)
    process.kill()
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = answered()
    assert killed_at < len(sent_questions), "the kill came too late to test anything"

    process = await _start(fake_api, env, log)
    try:
        # Every question gets (at least) one answer.
        await fake_api.wait_for(lambda: all(len(u.messages) >= QUESTIONS_EACH for u in askers), timeout=60)
        await asyncio.wait_for(asyncio.gather(*in_flight), timeout=90)
        # After the restart, new dialogues work as usual.
        after = range(2 * group, 3 * group)
        await asyncio.wait_for(asyncio.gather(*(_consult(consulters[i], about[i], confirmed) for i in after)), 90)
        assert all(about[i] in confirmed for i in after)
        await fake_api.wait_for(lambda: not fake_api.unconfirmed, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), timeout=30)
    assert returncode == 0, log.read_text()

    db = sqlite3.connect(db_path)
    try:
        questions = Counter(text for (text,) in db.execute("SELECT text FROM questions"))
        consultations = db.execute("SELECT reference, text FROM consultations").fetchall()
        pending = db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    assert integrity == "ok"
    assert pending == 0
    for text in sent_questions:
        assert questions[text] == 1, f"{text!r} logged {questions[text]} times"
    assert max(questions.values()) == 1
    by_text = Counter(text for _, text in consultations)
    assert all(n == 1 for n in by_text.values()), by_text
    for text, reference in confirmed.items():
        assert (reference, text) in consultations, f"{reference} was confirmed but is not stored"
    assert len(confirmed) >= 2 * group
    output = log.read_text()
    assert "Lotsen är igång" in output and "Lotsen har stannat" in output
    assert TOKEN.split(":")[1] not in output
    assert "hög frånvaro" not in output
