"""Privacy helpers: pseudonymous user keys and logs without tokens, personnummer or ids.

Lotsen stores a keyed pseudonym instead of a Telegram user id, and every log
line passes `RedactingFilter` before a handler writes it. The filter is a last
line of defence: code should not log message text in the first place.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from bot.ops.logformat import formatter
from bot.text import identifiers

# A Bot API token: the bot's numeric id, a colon, and a 35-character secret.
TOKEN_PATTERN = re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}")
# Whatever sits between /bot and the next slash in a Bot API URL (https://api.telegram.org/bot<token>/getMe).
_URL_TOKEN = re.compile(r"(?<=/bot)[^/\s?#\"']+(?=/)")
# Telegram user and chat ids (and other long integers): 7 or more digits, optionally negative.
_LONG_ID = re.compile(r"(?<![\w.\[])-?\d{7,}(?![\w.])")

TOKEN_PLACEHOLDER = "[token]"
ID_PLACEHOLDER = "[id]"

# Libraries that log request URLs (with the token) or whole payloads below these levels.
_QUIET_LOGGERS = {
    "httpx": logging.WARNING,  # every request URL at INFO, and the URL contains the token
    "httpcore": logging.WARNING,
    "telegram": logging.WARNING,  # whole updates at DEBUG ("Processing update …"), start/stop chatter at INFO
    "apscheduler": logging.WARNING,  # a line for every job run (the consultation timeouts)
    "aiosqlite": logging.INFO,  # every statement with its parameters at DEBUG
}


def pseudonym(secret: str, telegram_user_id: int) -> str:
    """Returns the user's stable key: HMAC-SHA256 of the Telegram id under LOTSEN_SECRET, 32 hex digits.

    The same id always gives the same key with the same secret, and nobody without
    the secret can go from a key back to the Telegram id.
    """
    message = f"telegram-user:{telegram_user_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def redact(text: str) -> str:
    """Removes bot tokens, personnummer, phone numbers, e-mail and street addresses and long numeric ids from a log text.

    (Log lines never carry what a user wrote; this is the net under that rule.)
    """
    text = TOKEN_PATTERN.sub(TOKEN_PLACEHOLDER, text)
    text = _URL_TOKEN.sub(TOKEN_PLACEHOLDER, text)
    text = identifiers.redact(text, names_too=False).text
    return _LONG_ID.sub(ID_PLACEHOLDER, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record so that its message, exception and stack text are redacted.

    The message is formatted with its arguments first (a token can hide in an
    argument), then the record carries the redacted text and no arguments.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: str | int = "INFO", fmt: str = "text") -> None:
    """Sets up logging for Lotsen: the redacting filter on every root handler and quiet chatty libraries.

    Handlers added to the root logger after this call do not get the filter.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter(fmt))  # LOTSEN_LOG_FORMAT: text or json
        root.addHandler(stream)
    root.setLevel(numeric)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for name, floor in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(numeric, floor))
