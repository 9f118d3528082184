"""Consultation: a short dialogue that sends a request to the municipality's BUP contact person.

The dialogue (a ConversationHandler, in memory) asks what it is about, how
urgent it is and how the requester can be reached, then shows a summary with a
"Skicka" button. Pressing it:

1. stores the consultation (`create_consultation`, source key ``tg:<update_id>``
   of the button press, so a replayed press finds the same row);
2. forwards it — to the bup-kontakt contact's Telegram chat when the contacts
   file has one, otherwise to LOTSEN_CURATOR_CHAT — unless it was forwarded
   already, with a "Hanterad" button;
3. only then tells the requester the reference K-<n>.

So every consultation a requester was told about is in the database. If Lotsen
dies after step 1, the press is replayed from the inbox on restart; the
dialogue state is gone by then, so `on_stale_button` finds the stored request
by its source key and finishes steps 2–3. A dialogue abandoned mid-way (or cut
by a restart before "Skicka") stores nothing; the user is told to start again.

Who receives a request and how it is forwarded: `bot.telegram.delivery`; the lists: `bot.telegram.consultation_list`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes, ConversationHandler

from bot.core.render import utf16_len
from bot.storage.consultations import Consultation
from bot.telegram.delivery import (
    URGENCY_LABELS,
    after_failure,
    destination,
    forward,
    recipient_label,
    tell_admins,
)
from bot.telegram.sending import keyboard
from bot.telegram.services import Services, services
from bot.text import personnummer

# The dialogue's states, in order.
ABOUT = "about"  # what the consultation is about (free text, no names)


URGENCY = "urgency"  # how urgent (buttons)


REACH = "reach"  # how the contact person reaches the requester (free text)


CONFIRM = "confirm"  # summary with Skicka / Avbryt


# An abandoned dialogue ends after this many seconds.
CONVERSATION_TIMEOUT = 30 * 60


# Longest texts, in UTF-16 code units as Telegram counts them (the forward must fit one message).
MAX_ABOUT_UTF16 = 2000


MAX_REACH_UTF16 = 300


_DRAFT = "lotsen.konsultation"


START = (
    "<b>Konsultation med BUP:s kontaktperson</b>\n"
    "Beskriv kort vad du vill ha råd om: ålder eller årskurs, vad du ser och vad skolan redan har gjort.\n"
    "<b>Skriv inga namn eller personnummer.</b>\n\n"
    "Avbryt när som helst med /avbryt."
)


ASK_URGENCY = "Hur brådskande är det?"


ASK_REACH = (
    "Hur når kontaktpersonen dig? Till exempel ditt telefonnummer eller skolans växel och när du kan svara. "
    "(Din egen kontaktuppgift, inte elevens.)"
)


ACUTE_REMINDER = "Är ett barn i fara just nu: ring <b>112</b>. Vid självmordsrisk: BUP akut eller 112."


PERSONNUMMER_REMOVED = "Jag tog bort ett personnummer ur texten – skriv aldrig personnummer här, det sparas inte."


PRESS_A_BUTTON = "Välj med knapparna ovan, eller avbryt med /avbryt."


CANCELLED = "Konsultationen är avbruten. Inget har sparats."


NOTHING_TO_CANCEL = "Det finns ingen pågående dialog att avbryta."


TIMED_OUT = "Konsultationsdialogen avbröts eftersom den stod stilla. Börja om med /konsultation när du vill."


STALE = "Den här dialogen är inte längre aktiv (Lotsen kan ha startats om). Börja om med /konsultation."


ONLY_PRIVATE = "Konsultationer tar jag bara emot i ett privat samtal – skriv /konsultation direkt till mig."


EMPTY_TEXT = "Skriv några ord om vad det gäller, eller avbryt med /avbryt."


TOO_LONG = (
    "Texten är för lång: {length} tecken, högst {limit} får plats (emoji räknas som två). "
    "Korta den med minst {over} tecken och skicka den igen – inget har skickats."
)


NOT_AVAILABLE = (
    "Konsultationsförfrågningar via Lotsen är inte tillgängliga här. "
    "Ring BUP:s kontaktperson direkt i stället:"
)


@dataclass
class Draft:
    """What the dialogue has collected so far (kept in user_data, never on disk before "Skicka")."""

    topic: str | None = None
    text: str = ""
    urgency: str = ""
    reach: str = ""


def _draft(context: ContextTypes.DEFAULT_TYPE) -> Draft:
    data = context.user_data if context.user_data is not None else {}
    draft = data.get(_DRAFT)
    if not isinstance(draft, Draft):
        draft = Draft()
        data[_DRAFT] = draft
    return draft


def _clean(text: str) -> tuple[str, bool]:
    """Redacts personnummer; returns the text and whether a number was removed."""
    had = personnummer.PLACEHOLDER in text or personnummer.contains(text)
    return personnummer.redact(text).strip(), had


def _too_long(text: str, limit: int) -> str | None:
    """The Swedish note for a text over `limit` UTF-16 units (never cut silently), or None."""
    length = utf16_len(text)
    if length <= limit:
        return None
    return TOO_LONG.format(length=length, limit=limit, over=length - limit)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Starts the consultation dialogue (from /konsultation or the button under an answer)."""
    chat = update.effective_chat
    if chat is None:
        return ConversationHandler.END
    query = update.callback_query
    if query is not None:
        await query.answer()
    if chat.type != "private":
        await context.bot.send_message(chat.id, ONLY_PRIVATE)
        return ConversationHandler.END
    if not services(context).settings.consultations:
        await _not_available(update, context, chat.id)
        return ConversationHandler.END
    draft = Draft()
    if query is not None and query.data:
        topic = query.data.removeprefix("kons:")
        draft.topic = topic if topic in services(context).kb.topics else None
    if context.user_data is not None:
        context.user_data[_DRAFT] = draft
    intro = START
    if draft.topic:
        intro += f"\n\nÄmne: <b>{html.escape(services(context).kb.topics[draft.topic].name)}</b>"
    await context.bot.send_message(chat.id, intro, parse_mode=ParseMode.HTML)
    return ABOUT


async def _not_available(update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Says plainly that requests are off, with the BUP contact's phone."""
    svc = services(context)
    user = update.effective_user
    profile = await svc.storage.users.get(svc.user_key(user.id)) if user else None
    municipality = profile.municipality if profile else None
    contact = svc.kb.contact_for("bup-kontakt", municipality) if municipality else None
    if contact is None:
        text = f"{html.escape(NOT_AVAILABLE)} välj först din kommun med /kommun, så visar jag numret."
    else:
        text = (
            f"{html.escape(NOT_AVAILABLE)}\n<b>{html.escape(contact.name)}</b> – {html.escape(contact.title)}\n"
            f'☎ <a href="tel:{html.escape(contact.phone.replace(" ", "").replace("-", ""))}">'
            f"{html.escape(contact.phone)}</a> · {html.escape(contact.hours)}"
        )
    await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)


async def on_about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Takes what the consultation is about and asks how urgent it is."""
    message = update.effective_message
    if message is None or not message.text:
        return ABOUT
    text, had_number = _clean(message.text)
    if not text.replace(personnummer.PLACEHOLDER, "").strip():
        await message.reply_text(EMPTY_TEXT)
        return ABOUT
    too_long = _too_long(text, MAX_ABOUT_UTF16)
    if too_long:
        await message.reply_text(too_long)
        return ABOUT
    draft = _draft(context)
    draft.text = text
    if had_number:
        await message.reply_text(PERSONNUMMER_REMOVED)
    rows = [[(label, f"urg:{key}")] for key, label in URGENCY_LABELS.items()]
    await message.reply_text(ASK_URGENCY, reply_markup=keyboard(rows))
    return URGENCY


async def on_urgency(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Takes the urgency and asks how the requester can be reached."""
    query = update.callback_query
    if query is None or query.data is None:
        return URGENCY
    await query.answer()
    urgency = query.data.removeprefix("urg:")
    if urgency not in URGENCY_LABELS:
        return URGENCY
    _draft(context).urgency = urgency
    note = f"\n{ACUTE_REMINDER}" if urgency == "akut" else ""
    await query.edit_message_text(f"Brådska: {html.escape(URGENCY_LABELS[urgency])} ✓{note}",
                                  parse_mode=ParseMode.HTML)
    chat_id = query.message.chat.id if query.message else query.from_user.id
    services(context).phone_allowed.add(query.from_user.id)  # the answer may hold a phone number
    await context.bot.send_message(chat_id, ASK_REACH)
    return REACH


def _summary(svc: Services, draft: Draft, municipality: str | None) -> str:
    topic = svc.kb.topics[draft.topic].name if draft.topic in svc.kb.topics else "inte angivet"
    return (
        "<b>Sammanfattning</b>\n"
        f"Kommun: {html.escape(svc.kb.municipality_name(municipality))}\n"
        f"Ämne: {html.escape(topic)}\n"
        f"Brådska: {html.escape(URGENCY_LABELS.get(draft.urgency, draft.urgency))}\n"
        f"Gäller: {html.escape(draft.text)}\n"
        f"Nås: {html.escape(draft.reach)}\n\n"
        "Skicka begäran?"
    )


async def _municipality(svc: Services, user_id: int, text: str) -> str | None:
    profile = await svc.storage.users.get(svc.user_key(user_id))
    chosen = profile.municipality if profile else None
    return (await svc.route(text, chosen)).municipality


async def on_reach(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Takes how to reach the requester and shows the summary with Skicka / Avbryt."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not message.text:
        return REACH
    reach, had_number = _clean(message.text)
    if not reach:
        await message.reply_text(ASK_REACH)
        return REACH
    too_long = _too_long(reach, MAX_REACH_UTF16)
    if too_long:
        await message.reply_text(too_long)
        return REACH
    draft = _draft(context)
    draft.reach = reach
    if had_number:
        await message.reply_text(PERSONNUMMER_REMOVED)
    svc = services(context)
    svc.phone_allowed.discard(user.id)
    municipality = await _municipality(svc, user.id, draft.text)
    buttons = keyboard([[("✅ Skicka", "kons_ok"), ("Avbryt", "kons_nej")]])
    await message.reply_text(_summary(svc, draft, municipality), parse_mode=ParseMode.HTML, reply_markup=buttons)
    return CONFIRM


async def _complete(svc: Services, context: ContextTypes.DEFAULT_TYPE, c: Consultation, chat_id: int) -> None:
    """Forwards a stored consultation (unless already forwarded) and tells the requester who received it."""
    forwarded = c.forwarded_chat_id is not None or await forward(svc, context.bot, c)
    dest = destination(svc.kb, svc.settings, c.municipality)
    ref = html.escape(c.reference)
    if forwarded:
        label = recipient_label(svc.kb, c.route) if c.forwarded_chat_id is not None else dest.label
        text = (
            f"Tack! Din begäran är registrerad med referens <b>{ref}</b> och skickad till "
            f"<b>{html.escape(label)}</b>, som hör av sig. Följ status med /mina."
        )
    else:
        text = (
            f"Tack! Din begäran är sparad med referens <b>{ref}</b>, men den nådde inte "
            f"{html.escape(dest.label)} just nu. Lotsen försöker igen och säger till processledarna om det "
            "inte går. Följ status med /mina."
        )
    if c.urgency == "akut":
        text += f"\n\n{ACUTE_REMINDER}"
    await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
    if forwarded:
        return
    if dest.chat_id is None:
        await tell_admins(context.application, c.reference, 0)
    else:
        await after_failure(context.application, c.reference)


async def on_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the consultation, forwards it and replies with its reference."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or not isinstance(query.message, Message):
        return ConversationHandler.END
    await query.answer()
    svc = services(context)
    draft = _draft(context)
    chat_id = query.message.chat.id
    municipality = await _municipality(svc, user.id, draft.text)
    route = destination(svc.kb, svc.settings, municipality).route
    consultation = await svc.storage.consultations.create(
        source_key=f"tg:{update.update_id}",
        user_key=svc.user_key(user.id),
        chat_id=chat_id,
        municipality=municipality,
        topic=draft.topic,
        text=draft.text,
        urgency=draft.urgency or "snart",
        reach=draft.reach,
        route=route,
    )
    if context.user_data is not None:
        context.user_data.pop(_DRAFT, None)
    await query.edit_message_reply_markup(None)
    await _complete(svc, context, consultation, chat_id)
    return ConversationHandler.END


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Ends the dialogue without storing anything."""
    if context.user_data is not None:
        context.user_data.pop(_DRAFT, None)
    if update.effective_user is not None:
        services(context).phone_allowed.discard(update.effective_user.id)
    query = update.callback_query
    if query is not None:
        await query.answer()
        await query.edit_message_reply_markup(None)
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, CANCELLED)
    return ConversationHandler.END


async def on_nothing_to_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers /avbryt when no dialogue is going on."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(NOTHING_TO_CANCEL)


async def on_press_a_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reminds the user to answer with the buttons."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(PRESS_A_BUTTON)


async def on_timeout(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells the user an abandoned dialogue has ended."""
    if context.user_data is not None:
        context.user_data.pop(_DRAFT, None)
    if isinstance(update, Update) and update.effective_user is not None:
        services(context).phone_allowed.discard(update.effective_user.id)
    if isinstance(update, Update) and update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, TIMED_OUT)


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handles a dialogue button pressed after the dialogue ended (e.g. replayed after a restart)."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    svc = services(context)
    if query.data == "kons_ok":
        stored = await svc.storage.consultations.by_source(f"tg:{update.update_id}")
        if stored is not None:
            await _complete(svc, context, stored, query.message.chat.id)
            return
    await context.bot.send_message(query.message.chat.id, STALE)
