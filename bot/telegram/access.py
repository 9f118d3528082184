"""Access checks shared by handlers: commands that show a person's own or the project's data.

Such commands (the admin commands, /mina) answer only in a private chat with
Lotsen, so nothing is posted into a group where others read along.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

_LOGGER = logging.getLogger(__name__)

PRIVATE_ONLY = "Det kommandot fungerar bara i en privat chatt med mig – skriv till mig direkt."
PRIVATE_BUTTON = "Den knappen fungerar bara i en privat chatt med mig."

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def private_only(callback: Callback) -> Callback:
    """Runs the command only in a private chat; elsewhere says where to ask instead."""

    @functools.wraps(callback)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        if message is None:
            return
        if chat is None or chat.type != ChatType.PRIVATE:
            _LOGGER.info("%s avböjdes utanför en privat chatt", callback.__name__)
            await message.reply_text(PRIVATE_ONLY)
            return
        await callback(update, context)

    return guarded


def in_private_chat(update: Update) -> bool:
    """True when a button was pressed (or a command sent) in a private chat with Lotsen.

    Every button that shows or changes data checks this, as the commands do: a
    button's data can be forged on any message, and in a group others read along.
    """
    query = update.callback_query
    message = query.message if query is not None else update.effective_message
    chat = message.chat if message is not None else None
    return chat is not None and chat.type == ChatType.PRIVATE
