"""A personnummer written to Lotsen is never echoed, stored or logged — in any of its forms.

The updates are redacted before the inbox COMMIT, so the number never reaches
the database file, its write-ahead log, or a log line. Checked on the raw bytes
of lotsen.sqlite3 and lotsen.sqlite3-wal while the bot is still running (before
any checkpoint), and on every log record at DEBUG level.
"""

from __future__ import annotations

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
