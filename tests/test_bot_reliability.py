"""Reliability: Telegram failing, updates delivered twice, replays after a crash, webhook mode.

Each answer is sent at least once and each question logged exactly once,
whatever the Bot API does in between. The real bot, a real SQLite file, the
fake Bot API with injected faults.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import sqlite3

import httpx
import pytest
from conftest import ADMIN_ID
from fakebotapi import TOKEN
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TimedOut

from bot.telegram.app import build_application, running
from bot.telegram.errors import TRY_AGAIN
from bot.telegram.polling import redact_update, serve_polling
from bot.telegram.sending import safe_to_retry
from bot.telegram.webhook import SECRET_HEADER, serve_webhook, webhook_secret

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"


def _rows(db_path, sql: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


async def test_429_and_500_on_send_still_give_exactly_one_answer(fake_api, lotsen):
    """sendMessage answers 429 (retry after 1 s) and then 500: the user gets one answer, logged once."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(4001), municipality="flen")
    fake_api.fail("sendMessage", 429, retry_after=1)
    fake_api.fail("sendMessage", 500)
    anna = fake_api.user(4001)
    answer = await anna.ask(QUESTION)
    assert "skolfrånvaro" in answer.text
    await lotsen.idle()
    await anna.no_more_messages(0.3)
    assert len(fake_api.calls_of("sendMessage")) == 3  # 429, 500, delivered
    assert len(_rows(lotsen.services.settings.db_path, "SELECT * FROM questions")) == 1


async def test_a_handled_429_is_one_warning_line_without_a_traceback(fake_api, lotsen, caplog):
    """sendMessage answers 429 once: the retry is logged as one WARNING, nothing at ERROR, no traceback."""
    fake_api.fail("sendMessage", 429, retry_after=1)
    await fake_api.user(4011).ask(QUESTION)
    await lotsen.idle()
    about_429 = [r for r in caplog.records if "429" in r.getMessage() or "Rate limit" in r.getMessage()]
    assert [r.levelname for r in about_429] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_bad_request_is_never_resent_and_the_user_is_asked_to_try_again(fake_api, lotsen):
    """A 400 is permanent: no send-level retry; after the inbox's last attempt the user is told."""
    fake_api.fail("sendMessage", 400, times=3)
    bo = fake_api.user(4002)
    await bo.send(QUESTION)
    assert (await bo.next_message()).text == TRY_AGAIN
    await lotsen.idle()
    to_bo = [c for c in fake_api.calls_of("sendMessage") if int(c["chat_id"]) == bo.id]
    assert len(to_bo) == 4  # one per inbox attempt (3) + the apology
    row = _rows(lotsen.services.settings.db_path, "SELECT status, payload, problem FROM inbox")[0]
    assert (row["status"], row["payload"], row["problem"]) == ("failed", "", "BadRequest")
    report = await fake_api.user(ADMIN_ID).next_message()  # given up: the process leaders hear of it
    assert "gav upp" in report.text and "BadRequest" in report.text


async def test_a_blocked_user_is_not_retried_or_bothered(fake_api, lotsen):
    """403 Forbidden (the user blocked Lotsen): no retries within a send and no apology."""
    fake_api.blocked_chats.add(4003)
    cia = fake_api.user(4003)
    await cia.send(QUESTION)
    await lotsen.idle()
    assert len(fake_api.calls_of("sendMessage")) == 1  # nobody to answer: given up at once, admins not bothered


async def test_an_update_delivered_twice_is_answered_once(fake_api, lotsen):
    """Telegram redelivers an update (it missed our confirmation): one inbox row, one answer, one log row."""
    dan = fake_api.user(4004)
    update_id = await dan.send(QUESTION)
    await dan.next_message()
    await lotsen.idle()
    fake_api.redeliver(update_id)
    await lotsen.idle()
    await dan.no_more_messages(0.3)
    db = lotsen.services.settings.db_path
    assert len(_rows(db, "SELECT * FROM questions")) == 1
    assert len(_rows(db, "SELECT * FROM inbox")) == 1


async def test_a_replay_after_a_crash_does_not_answer_again(fake_api, start_bot, bot_settings):
    """Killed after logging but before "done": on restart the update is replayed and recognised."""
    eva = fake_api.user(4005)
    async with start_bot() as bot:
        update_id = await eva.send(QUESTION)
        await eva.next_message()
        await bot.idle()
    update = next(u for u in fake_api.history if u["update_id"] == update_id)
    db = sqlite3.connect(bot_settings.db_path)
    db.execute("UPDATE inbox SET status = 'pending', payload = ? WHERE update_id = ?",
               (redact_update(update), update_id))
    db.commit()
    db.close()
    async with start_bot() as bot:
        await bot.idle()
        await eva.no_more_messages(0.3)
    assert len(_rows(bot_settings.db_path, "SELECT * FROM questions")) == 1
    assert _rows(bot_settings.db_path, "SELECT status FROM inbox")[0]["status"] == "done"


async def test_updates_stored_but_not_handled_are_handled_after_a_restart(fake_api, start_bot, bot_settings):
    """An update in the inbox but never handled (killed in between) is answered on the next start."""
    fia = fake_api.user(4006)
    async with start_bot() as bot:
        await fia.ask("/om")
        await bot.idle()
    update = {"update_id": 77, "message": {
        "message_id": 99, "date": 1_700_000_000, "text": QUESTION,
        "chat": {"id": 4006, "type": "private", "first_name": "F"},
        "from": {"id": 4006, "is_bot": False, "first_name": "F"},
    }}
    db = sqlite3.connect(bot_settings.db_path)
    db.execute("INSERT INTO inbox (update_id, received, payload) VALUES (77, '2026-01-01T00:00:00+00:00', ?)",
               (json.dumps(update),))
    db.commit()
    db.close()
    async with start_bot() as bot:
        assert "skolfrånvaro" in (await fia.next_message()).text
        await bot.idle()
    assert _rows(bot_settings.db_path, "SELECT source_key FROM questions")[0]["source_key"] == "tg:77"


async def test_get_updates_failures_are_retried_with_backoff(fake_api, lotsen):
    """getUpdates answering 500 and then 429 delays, but does not lose, the user's message."""
    fake_api.fail("getUpdates", 500)
    fake_api.fail("getUpdates", 429, retry_after=1)
    gun = fake_api.user(4007)
    await gun.send(QUESTION)
    assert "skolfrånvaro" in (await gun.next_message(timeout=10)).text


async def test_a_rejected_token_stops_polling(fake_api, bot_settings, kb):
    """InvalidToken from getUpdates is fatal: the poller stops with the error instead of looping."""
    fake_api.fail("getUpdates", 401, description="Unauthorized")
    application = build_application(bot_settings, kb=kb)
    async with running(application):
        with pytest.raises(InvalidToken):
            await asyncio.wait_for(serve_polling(application, asyncio.Event(), poll_timeout=1), 10)


async def test_a_wrong_token_fails_at_start(fake_api, bot_settings, kb):
    """getMe answers 401 for a wrong token: starting fails with InvalidToken, not a retry loop."""
    wrong = dataclasses.replace(bot_settings, telegram_token="111:wrong-token-wrong-token-wrong-token")
    with pytest.raises(InvalidToken):
        async with running(build_application(wrong, kb=kb)):
            pass


def test_only_failures_that_cannot_have_delivered_are_retried():
    """Connect errors, connect/pool timeouts and 5xx are retried; 400, 403 and read timeouts never."""
    def caused(exc, cause):
        exc.__cause__ = cause
        return exc

    assert safe_to_retry(NetworkError("Internal Server Error"))
    assert safe_to_retry(caused(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused")))
    assert safe_to_retry(caused(TimedOut(), httpx.ConnectTimeout("slow")))
    assert safe_to_retry(caused(TimedOut(), httpx.PoolTimeout("full")))
    assert not safe_to_retry(caused(TimedOut(), httpx.ReadTimeout("maybe sent")))
    assert not safe_to_retry(caused(NetworkError("httpx.ReadError"), httpx.ReadError("reset")))
    assert not safe_to_retry(BadRequest("Message is too long"))
    assert not safe_to_retry(Forbidden("bot was blocked by the user"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_checks_the_secret_stores_then_answers(fake_api, bot_settings, kb):
    """The webhook answers 403 without the secret, 400 for junk, and 200 only once the update is stored."""
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
            assert fake_api.webhook_secret == secret
            async with httpx.AsyncClient() as client:
                body = {"update_id": 5, "message": {"message_id": 1, "date": 1_700_000_000, "text": "hej",
                                                    "chat": {"id": 1, "type": "private"}}}
                wrong = await client.post(url, json=body, headers={SECRET_HEADER: "wrong"})
                missing = await client.post(url, json=body)
                junk = await client.post(url, content=b"not json", headers={SECRET_HEADER: secret})
            assert (wrong.status_code, missing.status_code, junk.status_code) == (403, 403, 400)
            assert await services.storage.inbox.pending() == []  # nothing was stored

            # A real delivery: the fake POSTs the update with the secret; the bot answers.
            await services.storage.users.save(services.user_key(4010), municipality="oxelosund")
            hans = fake_api.user(4010)
            answer = await hans.ask(QUESTION)
            assert "Oxelösund" in answer.text
            await fake_api.wait_for(lambda: not fake_api.unconfirmed)
        finally:
            stop.set()
            await task
    assert len(_rows(bot_settings.db_path, "SELECT * FROM questions")) == 1
    assert fake_api.calls_of("getUpdates") == []


def test_the_webhook_secret_is_derived_when_not_configured(bot_settings):
    """Without LOTSEN_WEBHOOK_SECRET a stable secret is derived from LOTSEN_SECRET, in Telegram's alphabet."""
    secret = webhook_secret(bot_settings)
    assert secret == webhook_secret(bot_settings) and 1 <= len(secret) <= 256
    assert all(c.isalnum() or c in "_-" for c in secret)
    assert webhook_secret(dataclasses.replace(bot_settings, webhook_secret="given_one")) == "given_one"
    assert TOKEN not in secret
