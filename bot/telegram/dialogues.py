"""Dialogues in progress are noted in storage, so a restart mid-dialogue is noticed, not taken for a question.

PTB's ConversationHandler keeps a dialogue's state in memory only. `tracked`
wraps each callback of a dialogue: before a step it notes (under the user's
pseudonym, nothing they wrote) that the user is in the dialogue; after a step
that ends it, it forgets it. `ends` wraps callbacks that close a dialogue from
outside (a stale button, /avbryt). After a restart the in-memory state is gone
and the user's next message reaches `bot.telegram.questions.on_text`, which
calls `reported_lost` first: when the user had a dialogue open within its
timeout, they are told plainly that it was cut off, and their message, an
answer meant for the dialogue (a phone number, an e-mail address), is not
logged as a question.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, ConversationHandler

from bot.telegram.services import services

DIALOGUE_LOST = (
    "Lotsen startades om medan du höll på med din konsultationsbegäran, så den har inte skickats, "
    "och det du nyss skrev har jag inte sparat. Börja om med /konsultation – det tar en minut."
)

Step = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, Any]]


def tracked(name: str, callback: Step) -> Step:
    """Wraps a dialogue callback: notes the step before it runs, forgets the dialogue when it ends."""

    @functools.wraps(callback)
    async def step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        svc, user = services(context), update.effective_user
        key = svc.user_key(user.id) if user is not None else None
        if key is not None:
            await svc.storage.users.dialogue_step(key, name)  # a write first: nothing is said that is not noted
        state = await callback(update, context)
        if key is not None and state == ConversationHandler.END:
            await svc.storage.users.dialogue_ended(key)
        return state

    return step


def ends(callback: Step) -> Step:
    """Wraps a callback that closes the user's dialogue from outside it (timeout, stale button, /avbryt)."""

    @functools.wraps(callback)
    async def close(update: object, context: ContextTypes.DEFAULT_TYPE) -> Any:
        result = await callback(update, context)  # type: ignore[arg-type]
        user = update.effective_user if isinstance(update, Update) else None
        if user is not None:
            svc = services(context)
            await svc.storage.users.dialogue_ended(svc.user_key(user.id))
        return result

    return close


async def reported_lost(update: Update, context: ContextTypes.DEFAULT_TYPE, timeout: float) -> bool:
    """True when the user's message belongs to a dialogue a restart cut off; tells them so, once."""
    svc, user, message = services(context), update.effective_user, update.effective_message
    if user is None or message is None:
        return False
    key = svc.user_key(user.id)
    if await svc.storage.users.open_dialogue(key, datetime.now(UTC) - timedelta(seconds=timeout)) is None:
        return False
    if update.update_id not in svc.answered:
        await message.reply_text(DIALOGUE_LOST)
        svc.answered.add(update.update_id)
    await svc.storage.users.dialogue_ended(key)
    return True
