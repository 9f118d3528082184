"""The one error handler: log what failed (never the message text), and tell the user at most once.

Updates come from the durable inbox, which retries a failed update
(`bot.telegram.inbox`): a passing fault for a day, a permanent one three times.
The user hears nothing while the first attempts fail, so a passing hiccup does
not produce "try again" followed by the real answer. At the third attempt the
user gets one note: "try again" when the error is permanent, "I will answer as
soon as I can" when Lotsen keeps trying by itself. Never a second note, and
none when the answer itself has reached them (only logging it failed), when
they blocked Lotsen, or when a send timed out after it may have arrived.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.telegram.inbox import DATABASE_ERRORS, is_transient
from bot.telegram.sending import safe_to_retry
from bot.telegram.services import services_of

_LOGGER = logging.getLogger(__name__)

TRY_AGAIN = "Något gick fel hos mig. Försök igen om en liten stund. Vid akut fara: ring 112."
WILL_RETRY = (
    "Något gick fel hos mig, men jag försöker igen själv och svarar så snart jag kan – du behöver inte "
    "skicka frågan igen. Vid akut fara: ring 112."
)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs the failure without message text and, once, tells the user what happens next."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    # Type and update id only: the exception text of a Bot API error may quote the message.
    expected = isinstance(error, (TelegramError, *DATABASE_ERRORS))
    _LOGGER.error("Fel vid hantering av update %s: %s", update_id, type(error).__name__,
                  exc_info=None if expected else error)
    if not isinstance(update, Update) or error is None:
        return
    try:
        svc = services_of(context.application)
    except RuntimeError:
        return
    svc.failed_updates[update.update_id] = error
    if svc.attempts.get(update.update_id, svc.max_attempts) < svc.max_attempts:
        return  # the inbox will try again before anyone is told
    if update.update_id in svc.notified or update.update_id in svc.answered:
        return  # told already, or the answer itself arrived
    if isinstance(error, Forbidden):
        return  # the user blocked the bot: nobody to tell
    if isinstance(error, TimedOut) and not safe_to_retry(error):
        return  # a read timeout: the reply may well have arrived
    chat = update.effective_chat
    if chat is None:
        return
    try:
        retried = is_transient(error) and update.update_id not in svc.last_attempts
        await context.bot.send_message(chat.id, WILL_RETRY if retried else TRY_AGAIN)
    except TelegramError as exc:
        _LOGGER.warning("Kunde inte ge användaren besked om felet: %s", type(exc).__name__)
        return
    svc.notified.add(update.update_id)
