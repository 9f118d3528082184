"""Sending to Telegram: which failures are retried, and long HTML replies split in parts.

python-telegram-bot never retries a Bot API call. Lotsen's rate limiter wraps
every outgoing call (except getUpdates, which the polling loop handles itself)
and retries only what cannot have been delivered:

- 429 Too Many Requests (`RetryAfter`): wait retry_after, then retry; all other
  sends wait too (AIORateLimiter's pause event);
- 5xx answers and connection failures (`NetworkError` from a status code or from
  httpx.ConnectError), connect and pool timeouts: back off and retry a few times;
- never `BadRequest` (a 400 is permanent: retrying "message is too long" only
  repeats it), `Forbidden` (the user blocked the bot), `InvalidToken`, `Conflict`,
  `ChatMigrated`;
- never a *read* timeout: the request reached Telegram and the message may well
  have been sent. sendMessage has no idempotency key, so a retry could send the
  answer twice. `send_html` treats such a part as "maybe sent" and goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot

from bot.core.render import split_message

_LOGGER = logging.getLogger(__name__)

# Failures that say the request itself is wrong or unwelcome: retrying cannot help.
_PERMANENT = (BadRequest, Forbidden, InvalidToken, Conflict, ChatMigrated)
# httpx errors raised before the request left this machine.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds (PTB gives an int or a timedelta depending on PTB_TIMEDELTA)."""
    value = exc._retry_after  # noqa: SLF001 - the timedelta behind the int/timedelta property
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def safe_to_retry(exc: Exception) -> bool:
    """True when the failed call certainly did not deliver anything, so a retry cannot duplicate."""
    if isinstance(exc, _PERMANENT):
        return False
    cause = exc.__cause__
    if isinstance(exc, TimedOut):
        # Only a connect or pool timeout is certain; a read timeout may have been delivered.
        return isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout))
    if isinstance(exc, NetworkError):
        # No httpx cause: Telegram answered with a 5xx (or another non-2xx) status.
        return cause is None or isinstance(cause, _NOT_SENT)
    return False


def _not_ptbs_429_traceback(record: logging.LogRecord) -> bool:
    """Drops AIORateLimiter's ERROR-with-traceback for a 429 (with max_retries=0 it logs every one);
    RetryingRateLimiter handles the 429 and logs one WARNING line itself."""
    return not str(record.msg).startswith("Rate limit hit after maximum")


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter plus Lotsen's retry policy for 429, 5xx and connection errors."""

    def __init__(self, *, attempts: int = 4, backoff: float = 0.5, max_backoff: float = 8.0) -> None:
        super().__init__(max_retries=0)
        ptb_logger = logging.getLogger("telegram.ext.AIORateLimiter")
        if _not_ptbs_429_traceback not in ptb_logger.filters:
            ptb_logger.addFilter(_not_ptbs_429_traceback)
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        delay = self.backoff
        attempt = 1
        while True:
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except RetryAfter as exc:
                if attempt >= self.attempts:
                    raise
                wait = retry_after_seconds(exc) + 0.1
                _LOGGER.warning("%s: 429 från Telegram, väntar %.1f s (försök %d)", endpoint, wait, attempt)
                # Hold back every other request too, as AIORateLimiter does.
                self._retry_after_event.clear()
                try:
                    await asyncio.sleep(wait)
                finally:
                    self._retry_after_event.set()
            except (NetworkError, TimedOut) as exc:
                if attempt >= self.attempts or not safe_to_retry(exc):
                    raise
                _LOGGER.info("%s: %s, försöker igen om %.1f s", endpoint, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            attempt += 1


async def send_html(
    bot: ExtBot,
    chat_id: int,
    html: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> list[Message | None]:
    """Sends an HTML reply, split into parts under Telegram's limit; buttons go under the last part.

    A part whose send timed out while waiting for Telegram's answer is taken as
    sent (None in the result) rather than sent again.
    """
    parts = split_message(html)
    sent: list[Message | None] = []
    for i, part in enumerate(parts):
        markup = reply_markup if i == len(parts) - 1 else None
        try:
            message = await bot.send_message(
                chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TimedOut as exc:
            if safe_to_retry(exc):
                raise
            _LOGGER.warning("sendMessage: svaret från Telegram dröjde; delen räknas som kanske skickad")
            message = None
        sent.append(message)
    return sent


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Builds an inline keyboard from rows of (label, callback_data)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows])
