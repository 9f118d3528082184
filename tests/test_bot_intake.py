"""Poison-proof intake: an update that cannot be parsed is quarantined, and the bot keeps serving everyone else.

A real `lotsen kor` in polling mode (a poison update used to kill it at every
restart) and the webhook server, both against the fake Bot API.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import time

import httpx
from test_bot_run import _env, _start

from bot.telegram.app import build_application, running
from bot.telegram.intake import accept
from bot.telegram.webhook import SECRET_HEADER, serve_webhook, webhook_secret

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"
MALLORY = {"id": 6666, "is_bot": False, "first_name": "Mallory", "username": "mallory_x", "language_code": "sv"}


def _message(text: str, chat: dict, sender: dict = MALLORY) -> dict:
    return {"message_id": 1, "date": int(time.time()), "chat": chat, "from": sender, "text": text}


def _poison(update_id: int | None) -> list[dict]:
    """Three updates that used to stop Lotsen: a lone surrogate, a non-integer chat id, no update_id."""
    private = {"id": 6666, "type": "private", "first_name": "Mallory"}
    return [
        {"update_id": update_id, "message": _message("hej \ud800 050718-2384", private)},
        {"update_id": update_id + 1, "message": _message("hej", {"id": "abc", "type": "private"})},
        {"message": _message("hej", private)},
    ]


def _inbox(db_path) -> list[tuple[int, str, str, str | None]]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT update_id, status, payload, problem FROM inbox ORDER BY update_id").fetchall()
    finally:
        db.close()


def test_intake_reduces_people_to_their_ids_and_redacts():
    """Stored updates keep chat and user ids but no names, usernames or personnummer."""
    chat = {"id": 6666, "type": "private", "first_name": "Mallory", "last_name": "M", "username": "mallory_x"}
    incoming = accept({"update_id": 9, "message": _message("Elev 050718-2384 mår dåligt", chat)})
    assert incoming.problem is None and incoming.update_id == 9
    for secret in ("Mallory", "mallory_x", "2384", "language_code", "last_name"):
        assert secret not in incoming.payload
    assert '"id":6666' in incoming.payload and "[personnummer]" in incoming.payload


def test_intake_quarantines_what_cannot_be_parsed():
    """Each poison form is refused with a reason; a missing id cannot even be stored."""
    surrogate, chat_id, no_id = (accept(u) for u in _poison(1))
    assert surrogate.problem and surrogate.update_id == 1
    surrogate.payload.encode("utf-8")  # stored with ASCII escapes, storable
    assert chat_id.problem and "heltal" in chat_id.problem
    assert no_id.update_id is None and no_id.problem
    assert accept({"update_id": 3, "message": "not an object"}).problem
    assert accept({"update_id": 4, "callback_query": {"id": "1", "from": {"id": "x"}}}).problem


async def test_a_poison_update_in_polling_mode_does_not_stop_lotsen(fake_api, tmp_path):
    """`lotsen kor` gets the three poison updates: it quarantines two, skips one, answers everyone, restarts fine."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    process = await _start(fake_api, env, log)
    anna, bo = fake_api.user(6001, "Anna"), fake_api.user(6002, "Bo")
    try:
        assert "skolfrånvaro" in (await anna.ask(QUESTION, timeout=30)).text
        first = fake_api.next_update_id()
        fake_api.next_update_id()
        for update in _poison(first):
            fake_api.push_raw(update)
        assert "skolfrånvaro" in (await bo.ask(QUESTION, timeout=30)).text
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
        process = await _start(fake_api, env, log)  # the quarantined rows do not poison the restart
        assert "skolfrånvaro" in (await anna.ask(QUESTION, timeout=30)).text
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 30)
    assert returncode == 0, log.read_text()
    quarantined = [row for row in _inbox(db_path) if row[0] in (first, first + 1)]
    assert [(status, problem.split(":")[0]) for _, status, _, problem in quarantined] == [
        ("failed", "quarantined"), ("failed", "quarantined")]
    for _, _, payload, _ in quarantined:
        assert "Mallory" not in payload and "2384" not in payload
    output = log.read_text()
    assert "sattes i karantän" in output and "2 uppdateringar i karantän" in output
    assert "Traceback" not in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_poison_update_in_webhook_mode_is_quarantined_and_confirmed(fake_api, bot_settings, kb):
    """The webhook confirms a poison update (200, so Telegram stops resending), keeps it quarantined, serves others."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    secret = webhook_secret(bot_settings)
    application = build_application(bot_settings, kb=kb)
    stop = asyncio.Event()
    async with running(application, stop) as services:
        task = asyncio.create_task(serve_webhook(application, stop, url=url, secret=secret,
                                                 listen="127.0.0.1", port=port))
        try:
            await fake_api.wait_for(lambda: fake_api.webhook_url == url)
            surrogate, chat_id, no_id = _poison(900)
            async with httpx.AsyncClient() as client:
                # json.dumps escapes the lone surrogate as \\ud800, exactly as it travels in JSON.
                statuses = [
                    (await client.post(url, content=json.dumps(u), headers={SECRET_HEADER: secret})).status_code
                    for u in (surrogate, chat_id, no_id)
                ]
            assert statuses == [200, 200, 400]
            hans = fake_api.user(6010, "Hans")
            assert "skolfrånvaro" in (await hans.ask(QUESTION)).text
            assert await services.storage.inbox.quarantined_count() == 2
        finally:
            stop.set()
            await task
    rows = {row[0]: row for row in _inbox(bot_settings.db_path)}
    assert rows[900][1] == rows[901][1] == "failed"
