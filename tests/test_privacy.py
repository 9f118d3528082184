"""Pseudonymous user keys, and log lines that never carry tokens, personnummer or ids."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.ops.privacy import RedactingFilter, configure_logging, pseudonym

TOKEN = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
# Skatteverket's test personnummer (never assigned to a real person).
PERSONNUMMER = "19121212-1212"


def record(msg: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, exc_info)


def formatted(rec: logging.LogRecord) -> str:
    return logging.Formatter("%(message)s").format(rec)


def test_a_pseudonym_is_stable_for_the_same_secret():
    """The same Telegram id gives the same 32-hex-digit key every time."""
    key = pseudonym("hemlig", 123456789)
    assert key == pseudonym("hemlig", 123456789)
    assert len(key) == 32 and int(key, 16) >= 0
    assert "123456789" not in key


def test_a_pseudonym_depends_on_the_secret_and_the_user():
    """Another secret or another user gives another key."""
    assert pseudonym("hemlig", 1) != pseudonym("annan", 1)
    assert pseudonym("hemlig", 1) != pseudonym("hemlig", 2)


def test_the_filter_removes_a_token_from_the_message_and_its_arguments():
    """A bot token is replaced whether it sits in the format string, an argument or a URL."""
    rec = record("HTTP Request: POST %s %s", f"https://api.telegram.org/bot{TOKEN}/getMe", "200 OK")
    assert RedactingFilter().filter(rec) is True
    text = formatted(rec)
    assert TOKEN not in text
    assert "AAHdqTcv" not in text
    assert text == "HTTP Request: POST https://api.telegram.org/bot[token]/getMe 200 OK"


def test_the_filter_removes_an_odd_looking_token_from_a_bot_api_url():
    """Even a token that does not look like Telegram's is hidden between /bot and the method."""
    rec = record("GET http://127.0.0.1:8081/botTEST-TOKEN/getUpdates")
    RedactingFilter().filter(rec)
    assert formatted(rec) == "GET http://127.0.0.1:8081/bot[token]/getUpdates"


def test_the_filter_removes_a_personnummer_and_telegram_ids():
    """A personnummer in an argument and a chat id in the message are both replaced."""
    rec = record("chat -1001234567890 wrote %r", f"min elev {PERSONNUMMER} är orolig")
    RedactingFilter().filter(rec)
    text = formatted(rec)
    assert PERSONNUMMER not in text and "1212" not in text
    assert "1001234567890" not in text
    assert text == "chat [id] wrote 'min elev [personnummer] är orolig'"


def test_the_filter_redacts_exception_text():
    """A token inside an exception message does not reach the log through the traceback."""
    try:
        raise RuntimeError(f"connect failed for https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError:
        rec = record("polling failed", exc_info=sys.exc_info())
    RedactingFilter().filter(rec)
    text = formatted(rec)
    assert "polling failed" in text and "RuntimeError" in text
    assert TOKEN not in text


def test_the_filter_leaves_ordinary_log_lines_alone():
    """Counts, times and short numbers survive."""
    rec = record("stored %d updates in %.1f s, offset %s", 3, 0.25, 12)
    RedactingFilter().filter(rec)
    assert formatted(rec) == "stored 3 updates in 0.2 s, offset 12"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    saved_filters = {h: list(h.filters) for h in saved_handlers}
    names = ("httpx", "httpcore", "telegram", "aiosqlite", "apscheduler")
    saved_levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    for handler, filters in saved_filters.items():
        handler.filters[:] = filters
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


def test_configure_logging_quietens_httpx_and_telegram(restore_logging):
    """httpx logs URLs with the token at INFO, so it is raised to WARNING; PTB and APScheduler chatter too."""
    configure_logging("DEBUG")
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    assert logging.getLogger("telegram").level == logging.WARNING
    assert logging.getLogger("apscheduler").level == logging.WARNING
    assert logging.getLogger("aiosqlite").level == logging.INFO
    assert logging.getLogger().level == logging.DEBUG


def test_configure_logging_puts_the_filter_on_every_root_handler_once(restore_logging):
    """Calling it twice does not stack filters, and each root handler redacts."""
    configure_logging("INFO")
    configure_logging("WARNING")
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    assert logging.getLogger("telegram").level == logging.WARNING
