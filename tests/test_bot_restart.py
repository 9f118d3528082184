"""A restart in the middle of a consultation dialogue: the user is told plainly, and nothing they meant
for the dialogue is logged as a question. A real `lotsen kor`, killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

from test_bot_run import _env, _start

from bot.telegram.dialogues import DIALOGUE_LOST

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"


async def test_a_restart_mid_consultation_is_told_plainly_and_the_answer_is_not_logged(fake_api, tmp_path):
    """Killed while Kim is asked how to be reached: Kim's phone and e-mail are not logged; Kim is told to start again."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    process = await _start(fake_api, env, log)
    kim = fake_api.user(9300, "Kim")
    try:
        await kim.ask("/konsultation", timeout=30)
        ask_urgency = await kim.ask("Elev i åk 7 med oro och hög frånvaro", timeout=30)
        ask_reach = await kim.click(ask_urgency, "urg:snart", timeout=30)
        assert "Hur når" in ask_reach.text
        await fake_api.wait_for(lambda: not fake_api.unconfirmed, timeout=30)
        await asyncio.sleep(0.5)
        process.kill()
        await process.wait()
        process = await _start(fake_api, env, log)
        reply = await kim.ask("Ring mig på 070-123 45 67 eller kim@skola.se", timeout=30)
        assert reply.text == DIALOGUE_LOST
        assert "skolfrånvaro" in (await kim.ask(QUESTION, timeout=30)).text  # then life goes on
        assert "Konsultation" in (await kim.ask("/konsultation", timeout=30)).text
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    db = sqlite3.connect(db_path)
    try:
        texts = [text for (text,) in db.execute("SELECT text FROM questions")]
    finally:
        db.close()
    assert not any("kim@skola.se" in (t or "") or "070" in (t or "") for t in texts), texts
    assert texts == [QUESTION]
