"""Process leaders' commands: /statistik, /obesvarade, /export and /ladda_om — for LOTSEN_ADMINS only."""

from __future__ import annotations

import shutil

import pytest
from conftest import ADMIN_ID, ROOT

from bot.telegram.admin import NOT_ADMIN

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"


@pytest.mark.parametrize("command", ["/statistik", "/obesvarade", "/ladda_om", "/export"])
async def test_others_get_a_polite_no(fake_api, lotsen, command):
    """Someone not in LOTSEN_ADMINS is told the command is for the process leaders."""
    assert (await fake_api.user(7001).ask(command)).text == NOT_ADMIN


async def test_statistik_sends_a_table_and_a_chart(fake_api, lotsen):
    """/statistik: the counts as a text table and a PNG chart."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(7002), municipality="flen")
    asker = fake_api.user(7002)
    await asker.ask(QUESTION)
    await asker.ask("Hur bakar man kanelbullar?")
    await asker.ask("Hej!")
    await asker.ask("Tack så mycket!")
    await lotsen.idle()
    admin = fake_api.user(ADMIN_ID)
    table = await admin.ask("/statistik")
    # Greetings and thanks are not questions; topics and municipalities by name.
    assert table.text.startswith("<pre>") and "Frågor totalt:        2" in table.text
    assert "Hälsningar och tack:  2" in table.text
    assert "Problematisk skolfrånvaro" in table.text and "Flen" in table.text and "skolfranvaro" not in table.text
    chart = await admin.next_message()
    assert chart.method == "sendPhoto"
    assert next(iter(chart.files.values()))[1].startswith(b"\x89PNG")


async def test_obesvarade_lists_what_lotsen_could_not_answer(fake_api, lotsen):
    """/obesvarade shows declined questions (HTML-escaped) so the knowledge base can grow."""
    await fake_api.user(7003).ask("Vad tycker du om <Excel> & makron?")
    await lotsen.idle()
    admin = fake_api.user(ADMIN_ID)
    await admin.ask("/obesvarade")  # the heading, then one message per question
    listing = await admin.next_message()
    assert "&lt;Excel&gt; &amp; makron" in listing.text


async def test_obesvarade_shows_thumbs_down_answers_too(fake_api, lotsen):
    """An answer that got 👎 is listed, even though Lotsen was sure of its topic."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(7004), municipality="flen")
    asker = fake_api.user(7004)
    answer = await asker.ask(QUESTION)
    await asker.press(answer, answer.button("Inte till hjälp"))
    await fake_api.wait_for(lambda: fake_api.callback_answers)
    await lotsen.idle()
    admin = fake_api.user(ADMIN_ID)
    await admin.ask("/obesvarade")  # the heading, then one message per question
    listing = await admin.next_message()
    assert "👎" in listing.text and "hög frånvaro" in listing.text


async def test_id_tells_a_user_their_ids_and_what_they_are_for(fake_api, lotsen):
    reply = await fake_api.user(7005).ask("/id")
    assert "<code>7005</code>" in reply.text and "LOTSEN_ADMINS" in reply.text and "LOTSEN_CURATOR_CHAT" in reply.text
    group = fake_api.group(-5003, fake_api.user(7005))
    assert "<code>-5003</code>" in (await group.ask("/id")).text


async def test_export_sends_csv_files_without_pseudonyms(fake_api, lotsen):
    """/export sends the questions and the consultations as CSV documents, without user keys or chat ids."""
    await lotsen.services.storage.users.save(lotsen.services.user_key(7004), municipality="trosa")
    await fake_api.user(7004).ask(QUESTION)
    await lotsen.idle()
    admin = fake_api.user(ADMIN_ID)
    questions = await admin.ask("/export")
    consultations = await admin.next_message()
    assert (questions.method, consultations.method) == ("sendDocument", "sendDocument")
    filename, data = next(iter(questions.files.values()))
    assert filename.startswith("lotsen-fragor-") and filename.endswith(".csv")
    text = data.decode("utf-8-sig")
    assert "skolfranvaro" in text and "trosa" in text
    assert "user_key" not in text and "source_key" not in text and lotsen.services.user_key(7004) not in text


async def test_ladda_om_with_broken_yaml_keeps_the_last_good_knowledge(fake_api, start_bot, bot_settings, tmp_path):
    """A broken file: /ladda_om replies with file:line errors and Lotsen keeps answering from the last good KB."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    contacts = tmp_path / "contacts.yaml"
    shutil.copy(ROOT / "contacts.yaml", contacts)
    settings = bot_settings.__class__(**{**bot_settings.__dict__, "knowledge_dir": knowledge,
                                         "contacts_file": contacts})
    async with start_bot(settings, load_kb=True) as bot:
        await bot.services.storage.users.save(bot.services.user_key(7005), municipality="flen")
        user, admin = fake_api.user(7005), fake_api.user(ADMIN_ID)
        assert "Problematisk skolfrånvaro" in (await user.ask(QUESTION)).text

        topic = knowledge / "topics" / "skolfranvaro.yaml"
        good = topic.read_text(encoding="utf-8")
        topic.write_text(good.replace("name: Problematisk skolfrånvaro", "name: [oavslutad"), encoding="utf-8")
        report = await admin.ask("/ladda_om")
        assert "laddades inte om" in report.text and "skolfranvaro.yaml:" in report.text
        assert "Problematisk skolfrånvaro" in (await user.ask(QUESTION)).text  # the last good KB answers

        topic.write_text(good.replace("name: Problematisk skolfrånvaro", "name: Skolfrånvaro (ny text)"),
                         encoding="utf-8")
        assert "omladdad" in (await admin.ask("/ladda_om")).text
        assert "Skolfrånvaro (ny text)" in (await user.ask(QUESTION)).text
