"""The consultation dialogue: asked, stored, forwarded, handled — and cancelled or abandoned.

The real bot against the fake Bot API with a real SQLite file. LOTSEN_CURATOR_CHAT
is CURATOR_CHAT; the shipped contacts have no Telegram chats of their own.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from conftest import ADMIN_ID, CURATOR_CHAT

from bot.telegram import consultation
from bot.telegram.consultation import ASK_REACH, ASK_URGENCY, CANCELLED, ONLY_PRIVATE, PERSONNUMMER_REMOVED

ABOUT = "Elev i åk 5 med utbrott flera gånger i veckan, vi har gjort anpassningar men det hjälper inte."
REACH = "Ring skolans expedition 0150-123 45, vardagar 8–16"


def _consultations(db_path) -> list[sqlite3.Row]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM consultations ORDER BY id").fetchall()
    finally:
        db.close()


async def _through_the_dialogue(user, *, about: str = ABOUT, urgency: str = "urg:snart", reach: str = REACH):
    """Runs /konsultation up to the summary; returns the summary message (with Skicka/Avbryt)."""
    start = await user.ask("/konsultation")
    assert "inga namn eller personnummer" in start.text
    ask_urgency = await user.ask(about)
    if ask_urgency.text == PERSONNUMMER_REMOVED:
        ask_urgency = await user.next_message()
    assert ask_urgency.text == ASK_URGENCY
    assert [d for _, d in ask_urgency.buttons()] == ["urg:akut", "urg:snart", "urg:kan_vanta"]
    ask_reach = await user.click(ask_urgency, urgency)
    assert ask_reach.text == ASK_REACH
    summary = await user.ask(reach)
    if summary.text == PERSONNUMMER_REMOVED:
        summary = await user.next_message()
    assert summary.text.startswith("<b>Sammanfattning</b>")
    return summary


async def test_the_whole_dialogue_stores_forwards_and_gives_a_reference(fake_api, lotsen):
    """Skicka stores the request, forwards it to the curators' chat, and replies with K-<n>."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(3001), role="larare", municipality="flen")
    anna = fake_api.user(3001)
    summary = await _through_the_dialogue(anna)
    assert "Flen" in summary.text and "Snart" in summary.text
    confirmation = await anna.click(summary, "kons_ok")
    # The requester is told the real recipient: the process leaders' chat, not "BUP:s kontaktperson".
    assert "<b>K-1</b>" in confirmation.text and "<b>processledarnas chatt</b>" in confirmation.text
    assert "BUP" not in confirmation.text
    assert not summary.buttons()  # Skicka/Avbryt removed

    forwarded = fake_api.messages_to(CURATOR_CHAT)
    assert len(forwarded) == 1
    assert "K-1" in forwarded[0].text and "utbrott" in forwarded[0].text and REACH.split(",")[0] in forwarded[0].text
    assert forwarded[0].buttons() == [("✅ Hanterad", "done:K-1")]
    assert "BUP:s kontaktperson för Flen: <b>Jonas Provström</b>" in forwarded[0].text
    assert "skickad till processledarnas chatt" in (await anna.ask("/mina")).text

    [row] = _consultations(lotsen.services.settings.db_path)
    assert (row["reference"], row["status"], row["municipality"], row["urgency"]) == ("K-1", "vidarebefordrad", "flen", "snart")
    assert row["forwarded_chat_id"] == CURATOR_CHAT


async def test_hanterad_marks_it_handled_and_notifies_the_requester(fake_api, lotsen):
    """The curator presses "Hanterad": the requester is told, /mina shows it handled."""
    bo = fake_api.user(3002)
    summary = await _through_the_dialogue(bo)
    await bo.click(summary, "kons_ok")
    [forwarded] = fake_api.messages_to(CURATOR_CHAT)
    curator = fake_api.group(CURATOR_CHAT, fake_api.user(9001, "Processledare"))
    await curator.press(forwarded, "done:K-1")
    notice = await bo.next_message()
    assert "K-1" in notice.text and "hanterad" in notice.text
    assert "Hanterad" in forwarded.text and not forwarded.buttons()
    mine = await bo.ask("/mina")
    assert "K-1" in mine.text and "hanterad" in mine.text
    [row] = _consultations(lotsen.services.settings.db_path)
    assert row["status"] == "hanterad" and row["chat_id"] is None  # the requester's chat is forgotten


async def test_it_goes_to_the_bup_contacts_own_chat_when_there_is_one(fake_api, start_bot, kb):
    """A bup-kontakt with telegram_chat_id in contacts.yaml gets the request instead of the curators."""
    flen = kb.contacts.municipalities["flen"]
    bup = flen["bup-kontakt"].model_copy(update={"telegram_chat_id": -100555})
    contacts = kb.contacts.model_copy(
        update={"municipalities": {**kb.contacts.municipalities, "flen": {**flen, "bup-kontakt": bup}}}
    )
    async with start_bot(knowledge=dataclasses.replace(kb, contacts=contacts)) as bot:
        await bot.services.storage.users.save(bot.services.user_key(3003), municipality="flen")
        cia = fake_api.user(3003)
        await cia.click(await _through_the_dialogue(cia), "kons_ok")
        assert len(fake_api.messages_to(-100555)) == 1
        assert fake_api.messages_to(CURATOR_CHAT) == []


async def test_without_any_chat_the_request_is_stored_and_the_admins_are_told(fake_api, start_bot, bot_settings):
    """No contact chat and no curator chat (`lotsen kor` refuses this; a test can still build it): nothing stays silent."""
    async with start_bot(dataclasses.replace(bot_settings, curator_chat=None)):
        dan = fake_api.user(3004)
        confirmation = await dan.click(await _through_the_dialogue(dan), "kons_ok")
        assert "sparad" in confirmation.text and "nådde inte" in confirmation.text
        await fake_api.wait_for(lambda: fake_api.messages_to(ADMIN_ID))
        [alert] = [m for m in fake_api.messages_to(ADMIN_ID) if "K-1" in (m.text or "")]
        assert "kunde inte skickas" in alert.text and "/konsultationer" in alert.text
    [row] = _consultations(bot_settings.db_path)
    assert row["status"] == "ny"


async def test_the_answer_button_starts_the_dialogue_with_the_topic_filled_in(fake_api, lotsen):
    """"Begär konsultation" under an answer starts the dialogue about that answer's topic."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(3005), municipality="gnesta")
    eva = fake_api.user(3005)
    answer = await eva.ask("Eleven har hög frånvaro och vill inte komma till skolan")
    start = await eva.click(answer, "kons:skolfranvaro")
    assert "Problematisk skolfrånvaro" in start.text
    ask_urgency = await eva.ask(ABOUT)
    ask_reach = await eva.click(ask_urgency, "urg:akut")
    assert "112" in ask_urgency.text  # the acute reminder
    summary = await eva.ask(REACH)
    assert ask_reach.text == ASK_REACH
    await eva.click(summary, "kons_ok")
    [row] = _consultations(lotsen.services.settings.db_path)
    assert (row["topic"], row["urgency"]) == ("skolfranvaro", "akut")


@pytest.mark.parametrize("step", ["about", "urgency", "reach", "confirm"])
async def test_avbryt_cancels_at_every_step_and_stores_nothing(fake_api, lotsen, step):
    """/avbryt ends the dialogue wherever it is; nothing is stored."""
    fia = fake_api.user(3006)
    await fia.ask("/konsultation")
    if step != "about":
        ask_urgency = await fia.ask(ABOUT)
        if step != "urgency":
            await fia.click(ask_urgency, "urg:snart")
            if step != "reach":
                await fia.ask(REACH)
    assert (await fia.ask("/avbryt")).text == CANCELLED
    # Free text after cancelling is a question again, not part of a dialogue.
    assert "Sammanfattning" not in (await fia.ask(REACH)).text
    assert _consultations(lotsen.services.settings.db_path) == []


async def test_the_avbryt_button_on_the_summary_cancels(fake_api, lotsen):
    """The Avbryt button under the summary cancels too."""
    gun = fake_api.user(3007)
    summary = await _through_the_dialogue(gun)
    assert (await gun.click(summary, "kons_nej")).text == CANCELLED
    assert _consultations(lotsen.services.settings.db_path) == []


async def test_user_text_is_escaped_and_personnummer_removed(fake_api, lotsen):
    """`<b>` and `&` are shown as typed (escaped); a personnummer is removed, never stored or forwarded."""
    hans = fake_api.user(3008)
    summary = await _through_the_dialogue(hans, about="<b>Elev</b> & mamma, 20121212-1212, mår dåligt")
    assert "&lt;b&gt;Elev&lt;/b&gt; &amp; mamma" in summary.text and "1212" not in summary.text
    await hans.click(summary, "kons_ok")
    [forwarded] = fake_api.messages_to(CURATOR_CHAT)
    assert "&lt;b&gt;Elev&lt;/b&gt;" in forwarded.text and "1212" not in forwarded.text
    [row] = _consultations(lotsen.services.settings.db_path)
    assert row["text"].startswith("<b>Elev</b> & mamma, [personnummer]")


async def test_consultations_are_taken_only_in_private_chats(fake_api, lotsen):
    """In a group, /konsultation asks the user to write privately."""
    group = fake_api.group(-5002, fake_api.user(3009))
    assert (await group.ask("/konsultation")).text == ONLY_PRIVATE


async def test_an_abandoned_dialogue_times_out(fake_api, start_bot, monkeypatch):
    """A dialogue left standing ends by itself, and the user is told."""
    monkeypatch.setattr(consultation, "CONVERSATION_TIMEOUT", 0.5)
    async with start_bot():
        ida = fake_api.user(3010)
        await ida.ask("/konsultation")
        assert (await ida.next_message(timeout=5)).text == consultation.TIMED_OUT


async def test_a_replayed_skicka_press_after_a_restart_stores_nothing_new(fake_api, start_bot, bot_settings):
    """If Lotsen died after storing but before marking the press done, the replay finds the stored request.

    The dialogue state is gone after the restart; the press is recognised by its
    update id, the reference is repeated, and it is neither stored nor forwarded twice.
    """
    jon = fake_api.user(3011)
    async with start_bot() as bot:
        summary = await _through_the_dialogue(jon)
        press_id = await jon.press(summary, "kons_ok")
        confirmation = await jon.next_message()
        assert "K-1" in confirmation.text
        await bot.idle()
        press = next(u for u in fake_api.history if u["update_id"] == press_id)
    # Simulate the crash window: the update is back to pending, as if "done" was never written.
    db = sqlite3.connect(bot_settings.db_path)
    db.execute("UPDATE inbox SET status = 'pending', payload = ? WHERE update_id = ?", (json.dumps(press), press_id))
    db.commit()
    db.close()
    async with start_bot():
        again = await jon.next_message()
        assert "K-1" in again.text
    assert len(_consultations(bot_settings.db_path)) == 1
    assert len(fake_api.messages_to(CURATOR_CHAT)) == 1
