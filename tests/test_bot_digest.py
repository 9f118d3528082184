"""The weekly digest to the process leaders and confirming contacts with one tap, over the fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

from conftest import ADMIN_ID, ROOT
from telegram.ext import CallbackContext

from bot.cli.main import main
from bot.knowledge.loader import load_knowledge
from bot.telegram.digest import weekly_digest

OTHER_ADMIN = 5151
# Contacts verified before June 2026 are stale, whatever day the tests run.
SINCE_JUNE = (datetime.now(ZoneInfo("Europe/Stockholm")).date() - datetime(2026, 6, 1).date()).days
STALE_GNESTA = "Yusuf Testström"  # gnesta-socialtjanst-skola, verified 2026-03-02 in contacts.yaml
STALE_TROSA = "Familjecentralen i Trosa"  # owned by sara-provholm


async def _run_digest(bot) -> None:
    """Runs the job's callback exactly as the JobQueue would, with the application's context."""
    await weekly_digest(CallbackContext(bot.application))


async def test_the_digest_is_scheduled_for_monday_morning_swedish_time(lotsen):
    (job,) = lotsen.application.job_queue.get_jobs_by_name("lotsen-digest")
    when = job.next_t.astimezone(ZoneInfo("Europe/Stockholm"))
    assert (when.weekday(), when.hour, when.minute) == (0, 8, 0)


async def test_digest_lists_the_work_and_a_tap_confirms_a_contact(fake_api, start_bot, bot_settings, tmp_path, monkeypatch, capsys):
    """One message: stale contacts with buttons, open consultations, unanswered questions; Stämmer is stored and exported."""
    async with start_bot(dataclasses.replace(bot_settings, verify_days=SINCE_JUNE)) as bot:
        await _digest_and_confirm(fake_api, bot, bot_settings, tmp_path, monkeypatch, capsys)


async def _digest_and_confirm(fake_api, lotsen, bot_settings, tmp_path, monkeypatch, capsys) -> None:
    await fake_api.user(7201).ask("Kan man odla tomater på skolgården?")
    await lotsen.idle()
    await _run_digest(lotsen)
    admin = fake_api.user(ADMIN_ID)
    digest = await admin.next_message()
    assert "veckans att göra" in digest.text
    assert STALE_GNESTA in digest.text and STALE_TROSA in digest.text
    assert "Öppna konsultationer: 0" in digest.text
    assert "1 obesvarade frågor, 0 👎" in digest.text
    await admin.no_more_messages()

    await admin.press(digest, digest.button(f"Stämmer: {STALE_GNESTA}"))
    reply = await admin.next_message()
    assert f"{STALE_GNESTA} är kontrollerad" in reply.text
    await fake_api.wait_for(lambda: not any(STALE_GNESTA in label for label, _ in digest.buttons()))
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date()
    assert (await lotsen.services.storage.curation.contact_confirmations()) == {"gnesta-socialtjanst-skola": today}

    await admin.press(digest, digest.button("Ändrad"))  # the first remaining contact
    assert "har ändrats" in (await admin.next_message()).text
    assert len(await lotsen.services.storage.curation.contacts_reported_changed()) == 1

    listing = await admin.click(digest, "cu-list")
    assert "1 missar" in listing.text

    out = tmp_path / "contacts.yaml"
    monkeypatch.setenv("LOTSEN_DB", str(bot_settings.db_path))
    assert await asyncio.to_thread(main, ["export", "--kontakter", "--output", str(out)]) == 0
    assert "1 kontakter fick nytt verified: gnesta-socialtjanst-skola" in capsys.readouterr().err
    kb = load_knowledge(ROOT / "knowledge", out)
    gnesta = next(a for a in kb.contact_ages(today) if a.contact.id == "gnesta-socialtjanst-skola")
    assert (gnesta.verified, gnesta.age) == (today, 0)


async def test_nothing_to_do_sends_nothing(fake_api, start_bot, bot_settings):
    settings = dataclasses.replace(bot_settings, verify_days=100_000)
    async with start_bot(settings) as bot:
        await _run_digest(bot)
        await fake_api.user(ADMIN_ID).no_more_messages()


async def test_an_owner_with_telegram_gets_their_own_contacts_only(fake_api, start_bot, bot_settings, tmp_path):
    """Sara's contacts go to Sara's Telegram id; Eva has none set, so hers go to every admin."""
    contacts = tmp_path / "contacts.yaml"
    shutil.copy(ROOT / "contacts.yaml", contacts)
    text = contacts.read_text(encoding="utf-8")
    sara = "  sara-provholm:\n    name: Sara Provholm\n    telegram_user_id: null"
    assert sara in text
    contacts.write_text(text.replace(sara, sara.replace("null", str(OTHER_ADMIN))), encoding="utf-8")
    settings = dataclasses.replace(bot_settings, contacts_file=contacts, admins=frozenset({ADMIN_ID, OTHER_ADMIN}),
                                   verify_days=SINCE_JUNE)
    async with start_bot(settings, load_kb=True) as bot:
        await _run_digest(bot)
        eva_admin = await fake_api.user(ADMIN_ID).next_message()
        sara_admin = await fake_api.user(OTHER_ADMIN).next_message()
    assert STALE_GNESTA in eva_admin.text and STALE_TROSA not in eva_admin.text
    assert STALE_GNESTA in sara_admin.text and STALE_TROSA in sara_admin.text


async def test_rapport_sends_the_report_as_an_html_document(fake_api, lotsen):
    admin = fake_api.user(ADMIN_ID)
    document = await admin.ask("/rapport 2026-09-01 2026-11-30")
    assert document.method == "sendDocument"
    filename, data = next(iter(document.files.values()))
    assert filename == "lotsen-rapport-2026-09-01-2026-11-30.html"
    html = data.decode("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "1 september 2026 – 30 november 2026" in html
    assert "Skriv /rapport" in (await admin.ask("/rapport igår")).text
