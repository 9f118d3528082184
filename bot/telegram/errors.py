"""The one error handler: log what failed (never the message text), then tell the user to try again.

Updates come from the durable inbox, which retries a failed update a few
times (storage.MAX_UPDATE_ATTEMPTS). The user is told only when the last
attempt has failed, so a passing hiccup does not produce "try again" followed
by the real answer.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.telegram.sending import safe_to_retry
from bot.telegram.services import services_of

_LOGGER = logging.getLogger(__name__)

TRY_AGAIN = "Något gick fel hos mig. Försök igen om en liten stund. Vid akut fara: ring 112."


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs the failure without message text and tells the user to try again."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    # Type and update id only: the exception text of a Bot API error may quote the message.
    _LOGGER.error(
        "Fel vid hantering av update %s: %s", update_id, type(error).__name__,
        exc_info=None if isinstance(error, TelegramError) else error,
    )
    if not isinstance(update, Update):
        return
    try:
        svc = services_of(context.application)
    except RuntimeError:
        return
    svc.failed_updates.add(update.update_id)
    if svc.attempts.get(update.update_id, svc.max_attempts) < svc.max_attempts:
        return  # the inbox will try again
    if isinstance(error, Forbidden):
        return  # the user blocked the bot: nobody to tell
    if isinstance(error, TimedOut) and not safe_to_retry(error):
        return  # a read timeout: the reply may well have arrived
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, TRY_AGAIN)
    except TelegramError as exc:
        _LOGGER.warning("Kunde inte be användaren försöka igen: %s", type(exc).__name__)
