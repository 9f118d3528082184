"""A personnummer written to Lotsen is never echoed, stored or logged — in any of its forms.

The updates are redacted before the inbox COMMIT, so the number never reaches
the database file, its write-ahead log, or a log line. Checked on the raw bytes
of lotsen.sqlite3 and lotsen.sqlite3-wal while the bot is still running (before
any checkpoint), and on every log record at DEBUG level.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from fakebotapi import TOKEN
from personnummer import personnummer as oracle

from bot.ops.privacy import configure_logging

# Skatteverket-style test numbers (valid check digits), in every written form Lotsen must catch.
FORMS = [
    "19121212-1212",  # 12 digits with '-'
    "191212121212",  # 12 digits, no separator
    "850709-9805",  # 10 digits with '-'
    "8507099805",  # 10 digits, no separator
    "121212+1212",  # '+': the person has turned 100
    "701063-2391",  # samordningsnummer (day + 60)
    "200603154329",  # 12 digits, born 2006
    "990101 0018",  # with a space
]


def _needles(number: str) -> list[bytes]:
    digits = re.sub(r"\D", "", number)
    return [number.encode(), digits.encode(), digits[-10:].encode()]


@pytest.fixture
def raw_log() -> list[str]:
    """Every log line at DEBUG, formatted with exceptions, *without* Lotsen's redacting filter.

    Loggers are set up as `lotsen kor` sets them (bot.ops.privacy.configure_logging),
    then an unfiltered handler is added, so a leak in the code itself shows up.
    """
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "telegram", "httpx", "httpcore", "aiosqlite")}
    configure_logging("DEBUG")
    lines: list[str] = []

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(logging.Formatter("%(name)s %(message)s").format(record))

    handler = Raw(level=logging.DEBUG)
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_the_forms_are_real_personnummer():
    """Every form in this test is a valid personnummer or samordningsnummer (checked by the PyPI package)."""
    for number in FORMS:
        assert oracle.valid(number.replace(" ", "")), number


async def test_personnummer_never_reach_the_database_the_wal_or_the_logs(fake_api, lotsen, raw_log):
    """Questions, a consultation and a /kommun argument full of numbers leave no trace of them."""
    anna = fake_api.user(6001)
    await lotsen.services.storage.users.save(lotsen.services.user_key(6001), municipality="flen")
    for number in FORMS:
        reply = await anna.ask(f"Eleven {number} har hög frånvaro och mår dåligt")
        assert "personnummer" in reply.text
        assert not any(n.decode() in reply.text for n in _needles(number))

    await anna.ask("/konsultation")
    ask_urgency = await anna.ask(f"Gäller {FORMS[0]} och {FORMS[5]}, utbrott i klassrummet")
    if "personnummer" in ask_urgency.text:
        ask_urgency = await anna.next_message()
    ask_reach = await anna.click(ask_urgency, "urg:snart")
    assert ask_reach.text
    summary = await anna.ask(f"Nås på expeditionen, elevens nummer {FORMS[2]}")
    if "personnummer" in summary.text:
        summary = await anna.next_message()
    confirmation = await anna.click(summary, "kons_ok")
    assert "K-1" in confirmation.text
    await anna.ask(f"/kommun {FORMS[1]}")
    await lotsen.idle()

    db_path = lotsen.services.settings.db_path
    files = {p.name: p.read_bytes() for p in (db_path, db_path.with_name(db_path.name + "-wal")) if p.exists()}
    assert db_path.name + "-wal" in files  # WAL mode, not yet checkpointed: the test sees the raw frames
    log_text = "\n".join(raw_log)
    assert raw_log, "the test should have captured some log lines"
    for number in FORMS:
        for needle in _needles(number):
            for name, data in files.items():
                assert needle not in data, f"{number} found in {name}"
            assert needle.decode() not in log_text, f"{number} found in the logs"
    # Nor the bot token, nor the message text itself.
    assert TOKEN not in log_text and TOKEN.split(":")[1] not in log_text
    assert "hög frånvaro" not in log_text
    # Every message to the bot did carry a number (the fake saw them), so the test is not vacuous.
    sent = [u["message"]["text"] for u in fake_api.history if "message" in u]
    assert all(any(number in text for number in FORMS) for text in sent if text.startswith("Eleven"))


# --------------------------------------------------------------------------- names, numbers and addresses

# Written for this test: a child, a parent, a sibling, a phone number, an address, an e-mail and a plate.
WITH_NAMES = [
    "Vilgot Åkerlund i 7B (bor på Ringvägen 14, mammas mobil 070-174 22 31) har skurit sig, vad gör jag?",
    "Ismahan i 3A säger att pappa Abdirahim slår henne, han kör en grå Volvo med reg KPL 482.",
    "Mejla mig på hedvig.tornqvist@exempelskolan.se, det gäller Esmeralda:s lillebror i förskoleklass.",
]
IDENTIFIERS = ["Vilgot", "Åkerlund", "Ringvägen", "174 22 31", "Ismahan", "Abdirahim", "KPL 482", "hedvig",
               "tornqvist", "Esmeralda"]
KEPT_WORDS = ["7B", "skurit sig", "pappa", "förskoleklass", "Volvo", "lillebror"]


def _every_value(db_path) -> str:
    """Every value of every row of every table, as one text (what an export or a curator could ever see)."""
    import sqlite3

    db = sqlite3.connect(db_path)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(str(value) for table in tables for row in db.execute(f"SELECT * FROM {table}") for value in row)
    finally:
        db.close()


async def test_names_numbers_and_addresses_are_stored_logged_and_exported_nowhere(fake_api, lotsen, raw_log, tmp_path):
    """The same message reaches no table, no log line and no export; the routing and the answer still work."""
    from bot.ops.curation import export_csv

    await lotsen.services.storage.users.save(lotsen.services.user_key(6101), municipality="flen")
    selma = fake_api.user(6101)
    answers = [await selma.ask(text) for text in WITH_NAMES]
    assert "112" in answers[0].text  # a child who cut herself still gets the emergency route
    assert answers[0].text.endswith("<i>Jag sparade frågan utan namn, telefonnummer och adress.</i>")
    assert answers[1].text.endswith("<i>Jag sparade frågan utan namn och registreringsnummer.</i>")
    assert answers[2].text.endswith("<i>Jag sparade frågan utan namn och e-postadress.</i>")
    await lotsen.idle()

    stored = _every_value(lotsen.services.settings.db_path)
    rows = await lotsen.services.storage.statistics.export_rows("questions")
    exported = export_csv(rows)
    log_text = "\n".join(raw_log)
    for needle in IDENTIFIERS:
        assert needle not in stored, f"{needle} is in the database"
        assert needle not in exported, f"{needle} is in the export"
        assert needle not in log_text, f"{needle} is in the log"
    for word in KEPT_WORDS:
        assert word in stored, f"{word} should have been kept"
    assert "[namn] [namn] i 7B (bor på [adress], mammas mobil [telefon]) har skurit sig" in stored


async def test_forget_me_leaves_no_text_link_or_profile_in_any_table_the_inbox_or_the_wal(fake_api, lotsen):
    """/mina_uppgifter counts what is kept; /glom_mig with "Ja" removes it everywhere, counts stay anonymous."""
    svc = lotsen.services
    key = svc.user_key(6102)
    tove = fake_api.user(6102)
    await svc.storage.users.save(key, role="kurator", municipality="gnesta")
    for text in ("Eleven i 9A har slutat äta och verkar nedstämd hela tiden, kakelugnsrörelse",
                 "Hög frånvaro i 6B sedan jul, kakelugnsrörelse"):
        await tove.ask(text)
    mine = await tove.ask("/mina_uppgifter")
    assert "2 frågor sedan" in mine.text and "Gnesta" in mine.text
    ask = await tove.ask("/glom_mig")
    await tove.press(ask, "glom:ja:6102")
    await fake_api.wait_for(lambda: any("har glömt dig" in str(c) for c in fake_api.calls_of("editMessageText")))
    assert any("2 frågor" in str(c) for c in fake_api.calls_of("editMessageText"))
    await lotsen.idle()
    await asyncio.sleep(0.3)  # the worker blanks the confirming press after it is handled

    db_path = svc.settings.db_path
    stored = _every_value(db_path)
    assert "kakelugnsrörelse" not in stored and key not in stored
    assert '"id":6102' not in stored.replace(" ", "")  # no update of this chat left in the inbox
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        if path.exists():
            assert b"kakelugnsr" not in path.read_bytes(), f"the removed text lingers in {path.name}"
    stats = await svc.storage.statistics.stats()
    assert stats.questions >= 2  # the anonymous counts stay
    again = await tove.ask("/mina_uppgifter")
    assert "Inga sparade frågor" in again.text and "Ingen profil" in again.text


async def test_forget_me_only_on_the_users_own_button(fake_api, lotsen):
    """A forged "Ja" for another user, or a press outside the private chat, removes nothing."""
    svc = lotsen.services
    await svc.storage.users.save(svc.user_key(6103), municipality="flen")
    ulf = fake_api.user(6104)
    ask = await ulf.ask("/glom_mig")
    await ulf.press(ask, "glom:ja:6103", forged=True)
    await lotsen.idle()
    assert await svc.storage.users.get(svc.user_key(6103)) is not None


async def test_admin_buttons_pressed_in_a_group_show_nothing(fake_api, lotsen):
    """A process leader's forged "Hanterad" or curation-list press in a group neither edits nor posts data."""
    from conftest import ADMIN_ID

    svc = lotsen.services
    consultation = await svc.storage.consultations.create(
        source_key="test:1", user_key="u", chat_id=1, municipality="flen", topic=None,
        text="utbrott i klassrummet varje dag", urgency="snart", reach="expeditionen", route="curator",
    )
    leader = fake_api.user(ADMIN_ID, "Eva")
    group = fake_api.group(-200300, leader)
    hello = await group.ask("/hjalp")
    before = len(fake_api.calls_of("editMessageText")) + len(fake_api.calls_of("sendMessage"))
    await group.press(hello, f"done:{consultation.reference}", forged=True)
    await group.press(hello, "cu-list", forged=True)
    await lotsen.idle()
    await asyncio.sleep(0.3)
    after = fake_api.calls_of("editMessageText") + fake_api.calls_of("sendMessage")
    assert len(after) == before
    assert not any("utbrott" in str(call) for call in after)
    alerts = fake_api.calls_of("answerCallbackQuery")
    assert any("privat chatt" in str(call.get("text", "")) for call in alerts)
