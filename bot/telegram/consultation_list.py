"""The requester's and the process leaders' views of consultations: /mina, /konsultationer, "Skicka vidare".
"""

from __future__ import annotations

import html
import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.core.contacts import TZ
from bot.knowledge.base import KnowledgeBase
from bot.storage.consultations import Consultation
from bot.telegram.access import PRIVATE_BUTTON, in_private_chat
from bot.telegram.admin import admins_only
from bot.telegram.delivery import URGENCY_LABELS, after_failure, destination, forward, recipient_label
from bot.telegram.onboarding import municipality_keyboard
from bot.telegram.sending import keyboard, send_html
from bot.telegram.services import Services, services

_LOGGER = logging.getLogger(__name__)

NO_OPEN = "Inga öppna konsultationer."


def status_label(kb: KnowledgeBase, c: Consultation) -> str:
    """The status as the requester reads it, naming who has (or will get) the request."""
    if c.status == "hanterad":
        return "hanterad"
    who = recipient_label(kb, c.route)
    return f"skickad till {who}" if c.status == "vidarebefordrad" else f"ny – väntar på att nå {who}"


async def on_mine(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists the user's consultations with their status."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    svc = services(context)
    rows = await svc.storage.consultations.of_user(svc.user_key(user.id))
    if not rows:
        await message.reply_text("Du har inga konsultationer. Begär en med /konsultation.")
        return
    lines = ["<b>Dina konsultationer</b>"]
    for c in rows:
        topic = svc.kb.topics[c.topic].name if c.topic in svc.kb.topics else "–"
        lines.append(
            f"• <b>{html.escape(c.reference)}</b> {c.created:%Y-%m-%d} · {html.escape(topic)} · "
            f"{html.escape(status_label(svc.kb, c))}"
        )
    await send_html(context.bot, message.chat_id, "\n".join(lines))


def _list_entry(svc: Services, c: Consultation) -> str:
    topic = svc.kb.topics[c.topic].name if c.topic in svc.kb.topics else "–"
    text = c.text or ""
    if len(text) > 300:
        text = text[:300] + "…"
    return (
        f"<b>{html.escape(c.reference)}</b> {c.created.astimezone(TZ):%Y-%m-%d %H:%M} · "
        f"{html.escape(svc.kb.municipality_name(c.municipality))} · {html.escape(topic)} · "
        f"{html.escape(URGENCY_LABELS.get(c.urgency, c.urgency))}\n"
        f"Status: {html.escape(status_label(svc.kb, c))}\n"
        f"{html.escape(text)}"
    )


@admins_only
async def on_open_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists open consultations, oldest first, each with Hanterad and Skicka vidare."""
    message = update.effective_message
    assert message is not None
    svc = services(context)
    rows = await svc.storage.consultations.open()
    if not rows:
        await message.reply_text(NO_OPEN)
        return
    await message.reply_text(f"Öppna konsultationer: {len(rows)}, äldst först.")
    for c in rows[:30]:
        buttons = keyboard([[("✅ Hanterad", f"done:{c.reference}"), ("↪ Skicka vidare", f"vid:{c.reference}")]])
        await send_html(context.bot, message.chat_id, _list_entry(svc, c), reply_markup=buttons)


async def _admin_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[CallbackQuery, str, Message] | None:
    """The pressed button's query, data and message when a process leader pressed it; else answers no."""
    query, user = update.callback_query, update.effective_user
    if query is None or query.data is None or not isinstance(query.message, Message):
        return None
    if user is None or not services(context).is_admin(user.id):
        await query.answer("Bara processledarna kan skicka vidare.", show_alert=True)
        return None
    if not in_private_chat(update):
        await query.answer(PRIVATE_BUTTON, show_alert=True)
        return None
    await query.answer()
    return query, query.data, query.message


async def on_pass_on(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows the municipalities an open consultation can be passed on to."""
    pressed = await _admin_press(update, context)
    if pressed is None:
        return
    _, data, message = pressed
    svc = services(context)
    reference = data.removeprefix("vid:")
    await context.bot.send_message(
        message.chat.id, f"Vart ska {reference} skickas? Välj kommun:",
        reply_markup=municipality_keyboard(svc.kb, prefix=f"vidto:{reference}:"),
    )


async def on_pass_to(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forwards an open consultation to another municipality's recipient and tells the requester."""
    pressed = await _admin_press(update, context)
    if pressed is None:
        return
    query, data, _ = pressed
    svc = services(context)
    _, reference, municipality = data.split(":", 2)
    if municipality not in svc.kb.municipalities:
        return
    dest = destination(svc.kb, svc.settings, municipality)
    c = await svc.storage.consultations.reroute(reference, municipality, dest.route)
    if c is None:
        await query.edit_message_text(f"{reference} är redan hanterad eller finns inte.")
        return
    if not await forward(svc, context.bot, c):
        await query.edit_message_text(f"{reference} nådde inte {dest.label}; Lotsen försöker igen.")
        await after_failure(context.application, reference)
        return
    await query.edit_message_text(f"{reference} är skickad till {dest.label}.")
    if c.chat_id is not None:
        try:
            await context.bot.send_message(
                c.chat_id, f"Din begäran <b>{html.escape(reference)}</b> har skickats vidare till "
                f"{html.escape(dest.label)}.", parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:
            _LOGGER.warning("Beskedet om %s nådde inte fram: %s", reference, type(exc).__name__)
