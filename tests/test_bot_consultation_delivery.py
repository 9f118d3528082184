"""Consultations always reach a person: a destination at start, retries, the real recipient named, admins' list, one reminder.

The real bot against the fake Bot API (faults injected per chat), a real SQLite
file, and `lotsen kor` as a real process for the start-up check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

from conftest import ADMIN_ID, CURATOR_CHAT, ROOT, TEST_SECRET
from fakebotapi import TOKEN, utf16_len
from test_bot_consultation import ABOUT, REACH, _through_the_dialogue

from bot.config import Settings
from bot.telegram import delivery
from bot.telegram.consultation import NOT_AVAILABLE
from bot.telegram.delivery import destination_problem, reminder_due
from bot.telegram.run import check_consultation_destinations

BUP_CHAT = -100555


def _rows(db_path) -> list[sqlite3.Row]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM consultations ORDER BY id").fetchall()
    finally:
        db.close()


def _with_bup_chat(kb, municipality: str, chat_id: int):
    local = kb.contacts.municipalities[municipality]
    bup = local["bup-kontakt"].model_copy(update={"telegram_chat_id": chat_id})
    contacts = kb.contacts.model_copy(
        update={"municipalities": {**kb.contacts.municipalities, municipality: {**local, "bup-kontakt": bup}}}
    )
    return dataclasses.replace(kb, contacts=contacts)


# --------------------------------------------------------------------------- start-up


async def test_run_refuses_to_start_when_a_request_could_reach_nobody(tmp_path):
    """No BUP contact has a chat and LOTSEN_CURATOR_CHAT is unset: `lotsen kor` says which municipalities and how to fix it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env.update(LOTSEN_TELEGRAM_TOKEN=TOKEN, LOTSEN_SECRET=TEST_SECRET, LOTSEN_DB=str(tmp_path / "x.sqlite3"),
               LOTSEN_BOT_API_URL="http://127.0.0.1:9/bot")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    text = err.decode()
    assert process.returncode == 2
    assert "Lotsen startar inte" in text and "Eskilstuna" in text and "Vingåker" in text
    assert "LOTSEN_CURATOR_CHAT" in text and "telegram_chat_id" in text and "LOTSEN_KONSULTATION=av" in text
    assert not (tmp_path / "x.sqlite3").exists()


def test_the_check_passes_with_a_curator_chat_or_an_explicit_opt_out(bot_settings, kb):
    no_chat = dataclasses.replace(bot_settings, curator_chat=None)
    assert destination_problem(kb, no_chat) is not None
    assert check_consultation_destinations(bot_settings) is None
    assert check_consultation_destinations(dataclasses.replace(no_chat, consultations=False)) is None
    assert Settings.from_env({"LOTSEN_KONSULTATION": "av"}).consultations is False
    # Every BUP contact with its own chat is enough, except for a user with no municipality.
    every = kb
    for municipality in kb.municipalities:
        every = _with_bup_chat(every, municipality, -1000 - len(municipality))
    assert "ingen kommun vald" in (destination_problem(every, no_chat) or "")
    assert "Flen" not in (destination_problem(every, no_chat) or "")


async def test_with_requests_turned_off_konsultation_gives_the_bup_contacts_phone(fake_api, start_bot, bot_settings, kb):
    settings = dataclasses.replace(bot_settings, curator_chat=None, consultations=False)
    async with start_bot(settings) as bot:
        await bot.services.storage.users.save(bot.services.user_key(7001), municipality="flen")
        user = fake_api.user(7001)
        reply = await user.ask("/konsultation")
        bup = kb.contacts.municipalities["flen"]["bup-kontakt"]
        assert reply.text.startswith(NOT_AVAILABLE.split(".")[0]) and bup.name in reply.text and bup.phone in reply.text
        assert 'href="tel:' in reply.text
        await user.no_more_messages(0.3)
    assert _rows(bot_settings.db_path) == []


# --------------------------------------------------------------------------- the real recipient


async def test_the_requester_is_told_the_bup_contact_by_name_and_so_is_mina(fake_api, start_bot, kb):
    async with start_bot(knowledge=_with_bup_chat(kb, "flen", BUP_CHAT)) as bot:
        await bot.services.storage.users.save(bot.services.user_key(7002), municipality="flen")
        user = fake_api.user(7002)
        confirmation = await user.click(await _through_the_dialogue(user), "kons_ok")
        assert "skickad till <b>Jonas Provström, BUP:s kontaktperson för Flens kommun</b>" in confirmation.text
        assert "skickad till Jonas Provström" in (await user.ask("/mina")).text
        [forwarded] = fake_api.messages_to(BUP_CHAT)
        assert "K-1" in forwarded.text and fake_api.messages_to(CURATOR_CHAT) == []


# --------------------------------------------------------------------------- failures


async def test_a_forward_failing_twice_then_succeeding_is_delivered_once(fake_api, start_bot, bot_settings, monkeypatch):
    """Two failed tries (5xx, after the sender's own retries), then the retry job gets it through: one copy."""
    monkeypatch.setattr(delivery, "FORWARD_RETRY_DELAYS", (0.2, 0.2, 0.2))
    async with start_bot():
        fake_api.fail("sendMessage", 502, times=8, chat_id=CURATOR_CHAT)  # the sender retries each try 4 times
        user = fake_api.user(7003)
        confirmation = await user.click(await _through_the_dialogue(user), "kons_ok")
        assert "sparad" in confirmation.text and "nådde inte processledarnas chatt" in confirmation.text
        through = await user.next_message(timeout=30)
        assert "K-1" in through.text and "har nu nått processledarnas chatt" in through.text
        [forwarded] = fake_api.messages_to(CURATOR_CHAT)
        assert "K-1" in forwarded.text
        await asyncio.sleep(0.5)
        assert len(fake_api.messages_to(CURATOR_CHAT)) == 1
        assert fake_api.messages_to(ADMIN_ID) == []
    [row] = _rows(bot_settings.db_path)
    assert (row["status"], row["forward_attempts"], row["forwarded_chat_id"]) == ("vidarebefordrad", 2, CURATOR_CHAT)


async def test_after_the_last_try_the_admins_are_told(fake_api, start_bot, bot_settings, monkeypatch):
    monkeypatch.setattr(delivery, "FORWARD_RETRY_DELAYS", (0.1, 0.1))
    async with start_bot():
        fake_api.fail("sendMessage", 403, times=10, description="Forbidden: bot is not a member of the group chat",
                      chat_id=CURATOR_CHAT)
        user = fake_api.user(7004)
        await user.click(await _through_the_dialogue(user), "kons_ok")
        await fake_api.wait_for(lambda: fake_api.messages_to(ADMIN_ID), timeout=10)
        [alert] = fake_api.messages_to(ADMIN_ID)
        assert "K-1" in alert.text and "efter 3 försök" in alert.text and "/konsultationer" in alert.text
        await asyncio.sleep(0.5)
        assert len([c for c in fake_api.calls_of("sendMessage") if str(c.get("chat_id")) == str(CURATOR_CHAT)]) == 3
    [row] = _rows(bot_settings.db_path)
    assert row["status"] == "ny"


async def test_a_read_timeout_counts_as_delivered_and_its_hanterad_works(fake_api, start_bot, bot_settings):
    """The forward reaches the chat but the answer is lost: recorded as forwarded there, never sent again."""
    async with start_bot():
        fake_api.fail("sendMessage", 500, delay=6.0, deliver=True, chat_id=CURATOR_CHAT)
        user = fake_api.user(7005)
        confirmation = await user.click(await _through_the_dialogue(user), "kons_ok", timeout=20)
        assert "skickad till <b>processledarnas chatt</b>" in confirmation.text
        [forwarded] = fake_api.messages_to(CURATOR_CHAT)
        [row] = _rows(bot_settings.db_path)
        assert (row["status"], row["forwarded_chat_id"], row["forwarded_message_id"]) == ("vidarebefordrad", CURATOR_CHAT, None)
        curator = fake_api.group(CURATOR_CHAT, fake_api.user(9001, "Processledare"))
        await curator.press(forwarded, "done:K-1")
        assert "hanterad" in (await user.next_message()).text
        assert len(fake_api.messages_to(CURATOR_CHAT)) == 1


async def test_too_long_texts_are_refused_with_how_much_to_shorten(fake_api, lotsen):
    """Lengths count as Telegram counts them (an emoji is two); nothing is cut silently."""
    user = fake_api.user(7006)
    await user.ask("/konsultation")
    refused = await user.ask("Elev mår dåligt. " + "x" * 10_000)
    assert "för lång" in refused.text and "Korta den med minst 8017 tecken" in refused.text
    refused = await user.ask("🙂" * 1001)
    assert "2002 tecken" in refused.text and "minst 2 tecken" in refused.text
    emoji = "🙂" * 1000
    assert utf16_len(emoji) == 2000
    ask_urgency = await user.ask(emoji)
    await user.click(ask_urgency, "urg:snart")
    summary = await user.ask(REACH)
    await user.click(summary, "kons_ok")
    [forwarded] = fake_api.messages_to(CURATOR_CHAT)
    assert emoji in forwarded.text
    [row] = _rows(lotsen.services.settings.db_path)
    assert row["text"] == emoji


# --------------------------------------------------------------------------- the admins' list


async def test_admins_see_open_requests_oldest_first_and_close_one(fake_api, lotsen):
    users = {uid: fake_api.user(uid) for uid in (7007, 7008)}
    for uid, user in users.items():
        await user.click(await _through_the_dialogue(user, about=f"{ABOUT} ({uid})"), "kons_ok")
    admin = fake_api.user(ADMIN_ID, "Eva")
    header = await admin.ask("/konsultationer")
    assert "Öppna konsultationer: 2" in header.text
    first, second = await admin.next_message(), await admin.next_message()
    assert first.text.startswith("<b>K-1</b>") and second.text.startswith("<b>K-2</b>")
    assert first.buttons() == [("✅ Hanterad", "done:K-1"), ("↪ Skicka vidare", "vid:K-1")]
    assert "skickad till processledarnas chatt" in first.text
    await admin.press(first, "done:K-1")
    assert "hanterad" in (await users[7007].next_message()).text
    header = await admin.ask("/konsultationer")
    assert "Öppna konsultationer: 1" in header.text
    assert (await admin.next_message()).text.startswith("<b>K-2</b>")
    assert "bara för Lotsens processledare" in (await fake_api.user(7009).ask("/konsultationer")).text


async def test_an_admin_passes_a_request_on_to_another_municipalitys_contact(fake_api, start_bot, kb):
    async with start_bot(knowledge=_with_bup_chat(kb, "katrineholm", BUP_CHAT)) as bot:
        await bot.services.storage.users.save(bot.services.user_key(7010), municipality="flen")
        user = fake_api.user(7010)
        await user.click(await _through_the_dialogue(user), "kons_ok")
        admin = fake_api.user(ADMIN_ID, "Eva")
        await admin.ask("/konsultationer")
        entry = await admin.next_message()
        choose = await admin.click(entry, "vid:K-1")
        assert "vidto:K-1:katrineholm" in [d for _, d in choose.buttons()]
        await admin.press(choose, "vidto:K-1:katrineholm")
        told = await user.next_message()
        assert "skickats vidare till" in told.text and "Katrineholm" in told.text
        [forwarded] = fake_api.messages_to(BUP_CHAT)
        assert "K-1" in forwarded.text and "Kommun: Katrineholm" in forwarded.text
        assert "skickad till" in (await user.ask("/mina")).text
        # Someone else cannot pass requests on.
        await fake_api.user(7011).press(entry, "vid:K-1")
        await fake_api.wait_for(lambda: any("Bara processledarna" in (a.get("text") or "") for a in fake_api.callback_answers))


# --------------------------------------------------------------------------- the one reminder


def test_the_reminder_counts_swedish_working_days():
    tz_noon = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)  # Wednesday 23 December, 10:00 in Stockholm
    # Thursday 24 is a working day in the holidays package; 25 and 26 are holidays, then a weekend.
    assert not reminder_due(tz_noon, tz_noon + timedelta(days=1))
    assert not reminder_due(tz_noon, datetime(2026, 12, 28, 8, 59, tzinfo=UTC))
    assert reminder_due(tz_noon, datetime(2026, 12, 28, 9, 0, tzinfo=UTC))
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert not reminder_due(friday, datetime(2026, 11, 30, 12, 0, tzinfo=UTC))  # Monday
    assert reminder_due(friday, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # Tuesday


async def test_the_reminder_fires_once(fake_api, start_bot, bot_settings, monkeypatch):
    monkeypatch.setattr(delivery, "REMINDER_INTERVAL", 0.2)
    monkeypatch.setattr(delivery, "REMINDER_FIRST", 0.1)
    async with start_bot() as bot:
        storage = bot.services.storage
        old = await storage.consultations.create(
            source_key="test:old", user_key="u1", chat_id=7012, municipality="flen", topic="npf", text=ABOUT,
            urgency="snart", reach=REACH, route="curator", now=datetime.now(UTC) - timedelta(days=8),
        )
        await storage.consultations.set_forwarded(old.reference, CURATOR_CHAT, 1)
        new = await storage.consultations.create(
            source_key="test:new", user_key="u2", chat_id=7013, municipality="flen", topic="npf", text=ABOUT,
            urgency="snart", reach=REACH, route="curator",
        )
        await storage.consultations.set_forwarded(new.reference, CURATOR_CHAT, 2)
        await fake_api.wait_for(lambda: fake_api.messages_to(CURATOR_CHAT), timeout=10)
        await asyncio.sleep(1.0)  # several more rounds of the job
        reminders = fake_api.messages_to(CURATOR_CHAT)
        assert len(reminders) == 1
        assert "Påminnelse" in reminders[0].text and old.reference in reminders[0].text
        assert reminders[0].buttons() == [("✅ Hanterad", f"done:{old.reference}")]


async def test_a_request_left_unforwarded_by_a_restart_is_sent_after_the_start(fake_api, start_bot, bot_settings):
    """A request stored as `ny` before a restart (its retries lost with the process) is forwarded once after start."""
    async with start_bot() as bot:
        stored = await bot.services.storage.consultations.create(
            source_key="test:left", user_key="u1", chat_id=7014, municipality="gnesta", topic="npf", text=ABOUT,
            urgency="akut", reach=REACH, route="curator", now=datetime.now(UTC) - timedelta(minutes=5),
        )
        await fake_api.wait_for(lambda: fake_api.messages_to(CURATOR_CHAT), timeout=15)
        [forwarded] = fake_api.messages_to(CURATOR_CHAT)
        assert stored.reference in forwarded.text and forwarded.text.startswith("🚨")
        told = await fake_api.user(7014).next_message()
        assert "har nu nått processledarnas chatt" in told.text
    [row] = _rows(bot_settings.db_path)
    assert row["status"] == "vidarebefordrad"
