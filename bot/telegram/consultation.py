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

A request always reaches a person. `lotsen run` refuses to start while a
municipality has no destination (`destination_problem`), unless requests are
turned off (LOTSEN_KONSULTATION=av). The requester is told exactly who received
it. A forward that fails is tried again by a JobQueue job with backoff
(FORWARD_RETRY_DELAYS, attempts counted in the row); after the last try the
admins are told. A read timeout is "maybe delivered": recorded as forwarded to
that chat and never re-sent. Admins list open requests with /konsultationer
(Hanterad / Skicka vidare); a request open two Swedish working days reminds the
receiving chat once (`remind_open`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import holidays
from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError, TimedOut
from telegram.ext import Application, ContextTypes, ConversationHandler

from bot.config import Settings
from bot.core.render import utf16_len
from bot.core.router import TZ
from bot.knowledge.base import KnowledgeBase
from bot.storage.consultations import Consultation
from bot.telegram.admin import admins_only
from bot.telegram.onboarding import municipality_keyboard
from bot.telegram.sending import keyboard, safe_to_retry, send_html
from bot.telegram.services import Services, services, services_of
from bot.text import personnummer

_LOGGER = logging.getLogger(__name__)

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
# A forward that failed is tried again after these delays (seconds); after the last try the admins are told.
FORWARD_RETRY_DELAYS: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)
# Unforwarded requests older than this are picked up again after a restart.
RESUME_AFTER = timedelta(minutes=1)
# An open request not handled within this many Swedish working days reminds the receiving chat once.
REMINDER_WORKING_DAYS = 2
REMINDER_INTERVAL = 30 * 60.0  # seconds between checks
REMINDER_FIRST = 90.0  # first check this many seconds after start
CURATOR_LABEL = "processledarnas chatt"
NO_ROUTE = "ej-vidarebefordrad"
_HOLIDAYS = holidays.country_holidays("SE")
_DRAFT = "lotsen.konsultation"

URGENCY_LABELS = {
    "akut": "Akut – behöver svar i dag",
    "snart": "Snart – inom några dagar",
    "kan_vanta": "Kan vänta",
}

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
NO_OPEN = "Inga öppna konsultationer."


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


# --------------------------------------------------------------------------- who receives a request


@dataclass(frozen=True)
class Destination:
    """Where a municipality's consultation requests go, and how the requester is told."""

    route: str  # the contact's id, "curator", or NO_ROUTE
    chat_id: int | None
    label: str  # "Jonas Provström, BUP:s kontaktperson för Flens kommun" or "processledarnas chatt"


def destination(kb: KnowledgeBase, settings: Settings, municipality: str | None) -> Destination:
    """The BUP contact's own chat when contacts.yaml has one, else LOTSEN_CURATOR_CHAT."""
    contact = kb.contact_for("bup-kontakt", municipality)
    if contact is not None and contact.telegram_chat_id is not None:
        route = contact.id or f"bup-kontakt:{municipality}"
        return Destination(route, contact.telegram_chat_id, f"{contact.name}, {contact.title}")
    if settings.curator_chat is not None:
        return Destination("curator", settings.curator_chat, CURATOR_LABEL)
    return Destination(NO_ROUTE, None, "processledarna")


def recipient_label(kb: KnowledgeBase, route: str) -> str:
    """Who a stored request went (or goes) to, from its route."""
    if route == "curator":
        return CURATOR_LABEL
    contact = kb.contact_by_id(route)
    return f"{contact.name}, {contact.title}" if contact else "processledarna"


def missing_destinations(kb: KnowledgeBase, settings: Settings) -> list[str]:
    """Municipalities (and "ingen kommun vald") whose requests would reach nobody."""
    missing = [m.name for m in kb.municipalities.values() if destination(kb, settings, m.id).chat_id is None]
    if destination(kb, settings, None).chat_id is None:
        missing.append("ingen kommun vald")
    return missing


def destination_problem(kb: KnowledgeBase, settings: Settings) -> str | None:
    """Why `lotsen run` must not start (a request could reach nobody), or None."""
    if not settings.consultations:
        return None
    missing = missing_destinations(kb, settings)
    if not missing:
        return None
    return (
        "Lotsen startar inte: konsultationsförfrågningar skulle inte nå någon för "
        f"{', '.join(missing)}.\n"
        "Gör något av detta:\n"
        "  • sätt LOTSEN_CURATOR_CHAT till processledarnas Telegram-chatt (skriv /id i den chatten för att få id:t);\n"
        "  • ge BUP-kontakterna telegram_chat_id i contacts.yaml och kör lotsen validate;\n"
        "  • eller stäng av förfrågningar uttryckligen med LOTSEN_KONSULTATION=av "
        "(då får användarna BUP-kontaktens telefonnummer i stället)."
    )


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
    municipality = await _municipality(svc, user.id, draft.text)
    buttons = keyboard([[("✅ Skicka", "kons_ok"), ("Avbryt", "kons_nej")]])
    await message.reply_text(_summary(svc, draft, municipality), parse_mode=ParseMode.HTML, reply_markup=buttons)
    return CONFIRM


def _forward_text(svc: Services, c: Consultation) -> str:
    topic = svc.kb.topics[c.topic].name if c.topic in svc.kb.topics else "inte angivet"
    urgency = URGENCY_LABELS.get(c.urgency, c.urgency)
    flag = "🚨 " if c.urgency == "akut" else ""
    where = svc.kb.municipality_name(c.municipality)
    bup = svc.kb.contact_for("bup-kontakt", c.municipality) if c.municipality else None
    bup_line = (
        f"BUP:s kontaktperson för {html.escape(where)}: <b>{html.escape(bup.name)}</b>, {html.escape(bup.phone)}\n"
        if bup else ""
    )
    return (
        f"{flag}<b>Ny konsultationsbegäran {html.escape(c.reference)}</b>\n"
        f"Kommun: {html.escape(where)}\n"
        f"{bup_line}"
        f"Ämne: {html.escape(topic)}\n"
        f"Brådska: {html.escape(urgency)}\n\n"
        f"<b>Gäller:</b>\n{html.escape(c.text or '')}\n\n"
        f"<b>Nås:</b> {html.escape(c.reach or '')}\n\n"
        "Tryck <b>Hanterad</b> när du har kontaktat personen; då får hen besked."
    )


async def _forward(svc: Services, bot, c: Consultation) -> bool:  # noqa: ANN001 - an ExtBot
    """Sends the request to its recipient; True when delivered or maybe delivered (a read timeout)."""
    dest = destination(svc.kb, svc.settings, c.municipality)
    if dest.chat_id is None:
        return False
    try:
        sent = await bot.send_message(
            dest.chat_id, _forward_text(svc, c), parse_mode=ParseMode.HTML,
            reply_markup=keyboard([[("✅ Hanterad", f"done:{c.reference}")]]),
        )
    except TimedOut as exc:
        if safe_to_retry(exc):
            _LOGGER.error("Konsultation %s kunde inte vidarebefordras: %s", c.reference, type(exc).__name__)
            return False
        # It reached Telegram and was probably delivered: record it so "Hanterad" works; never re-send blindly.
        _LOGGER.warning("Konsultation %s: svaret dröjde, räknas som kanske levererad", c.reference)
        await svc.storage.consultations.set_forwarded(c.reference, dest.chat_id, None)
        return True
    except TelegramError as exc:
        _LOGGER.error("Konsultation %s kunde inte vidarebefordras: %s", c.reference, type(exc).__name__)
        return False
    await svc.storage.consultations.set_forwarded(c.reference, dest.chat_id, sent.message_id)
    return True


def _retry_job_name(reference: str) -> str:
    return f"lotsen-forward-{reference}"


async def _after_failure(application: Application, reference: str) -> None:
    """Schedules the next try of a failed forward, or tells the admins after the last one."""
    svc = services_of(application)
    attempts = await svc.storage.consultations.count_forward_attempt(reference)
    queue = application.job_queue
    if queue is not None and attempts <= len(FORWARD_RETRY_DELAYS):
        for job in queue.get_jobs_by_name(_retry_job_name(reference)):
            job.schedule_removal()  # one pending try per request: this one replaces a later one from start-up
        queue.run_once(_retry_forward, FORWARD_RETRY_DELAYS[attempts - 1], data=reference,
                       name=_retry_job_name(reference))
        return
    await _tell_admins(application, reference, attempts)


async def _tell_admins(application: Application, reference: str, attempts: int) -> None:
    svc = services_of(application)
    c = await svc.storage.consultations.get(reference)
    if c is None:
        return
    label = destination(svc.kb, svc.settings, c.municipality).label
    text = (
        f"⚠️ Konsultationsbegäran <b>{html.escape(reference)}</b> ({html.escape(svc.kb.municipality_name(c.municipality))}, "
        f"{html.escape(URGENCY_LABELS.get(c.urgency, c.urgency))}) kunde inte skickas till {html.escape(label)} "
        f"efter {attempts} försök. Se /konsultationer och skicka den vidare, eller kontakta personen själv."
    )
    if not svc.settings.admins:
        _LOGGER.error("Konsultation %s nådde ingen och LOTSEN_ADMINS är tomt", reference)
    for admin in sorted(svc.settings.admins):
        try:
            await application.bot.send_message(admin, text, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            _LOGGER.error("Administratören fick inte beskedet om %s: %s", reference, type(exc).__name__)


async def _retry_forward(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tries a failed forward again (a JobQueue job) and tells the requester when it gets through."""
    svc = services(context)
    reference = str(context.job.data) if context.job else ""
    c = await svc.storage.consultations.get(reference)
    if c is None or c.status != "ny" or c.forwarded_chat_id is not None:
        return
    if not await _forward(svc, context.bot, c):
        await _after_failure(context.application, reference)
        return
    if c.chat_id is not None:
        label = destination(svc.kb, svc.settings, c.municipality).label
        try:
            await context.bot.send_message(
                c.chat_id, f"Din begäran <b>{html.escape(reference)}</b> har nu nått {html.escape(label)}.",
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:
            _LOGGER.warning("Beskedet om %s nådde inte fram: %s", reference, type(exc).__name__)


async def resume_forwards(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Schedules a try for every request left unforwarded (e.g. by a restart during its retries)."""
    svc = services(context)
    now = datetime.now(UTC)
    queue = context.application.job_queue
    for c in await svc.storage.consultations.open("ny"):
        if queue is None or queue.get_jobs_by_name(_retry_job_name(c.reference)):
            continue
        # A request younger than RESUME_AFTER may be in the middle of its first send: wait until it is not.
        delay = max(0.0, (c.created + RESUME_AFTER - now).total_seconds())
        queue.run_once(_retry_forward, delay, data=c.reference, name=_retry_job_name(c.reference))


async def _complete(svc: Services, context: ContextTypes.DEFAULT_TYPE, c: Consultation, chat_id: int) -> None:
    """Forwards a stored consultation (unless already forwarded) and tells the requester who received it."""
    forwarded = c.forwarded_chat_id is not None or await _forward(svc, context.bot, c)
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
        await _tell_admins(context.application, c.reference, 0)
    else:
        await _after_failure(context.application, c.reference)


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


async def on_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Marks a forwarded consultation handled and tells the requester."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None or not isinstance(query.message, Message):
        return
    svc = services(context)
    reference = query.data.removeprefix("done:")
    current = await svc.storage.consultations.get(reference)
    allowed = current is not None and (
        current.forwarded_chat_id == query.message.chat.id or svc.is_admin(user.id)
    )
    if not allowed:
        await query.answer("Den här begäran kan bara markeras från chatten den skickades till.", show_alert=True)
        return
    handled = await svc.storage.consultations.mark_handled(reference)
    if handled is None:
        await query.answer("Redan markerad som hanterad.")
        await query.edit_message_reply_markup(None)
        return
    await query.answer("Markerad som hanterad.")
    await query.edit_message_text(
        _forward_text(svc, handled) + f"\n\n✅ <b>Hanterad</b> av {html.escape(user.first_name)}",
        parse_mode=ParseMode.HTML,
    )
    if handled.chat_id is not None:
        try:
            await context.bot.send_message(
                handled.chat_id,
                f"Din konsultationsbegäran <b>{html.escape(reference)}</b> är nu hanterad. "
                "Hör av dig igen om det behövs mer – /konsultation.",
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:
            _LOGGER.warning("Beskedet om %s nådde inte fram: %s", reference, type(exc).__name__)


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


# --------------------------------------------------------------------------- the one reminder


def reminder_due(created: datetime, now: datetime, working_days: int = REMINDER_WORKING_DAYS) -> bool:
    """True once `working_days` Swedish working days (no weekends, no holidays) have passed since `created`."""
    deadline = created.astimezone(TZ)
    counted = 0
    while counted < working_days:
        deadline += timedelta(days=1)
        if deadline.weekday() < 5 and deadline.date() not in _HOLIDAYS:
            counted += 1
    return now.astimezone(TZ) >= deadline


async def remind_open(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reminds the receiving chat, once, of each request not handled within two working days."""
    svc = services(context)
    now = datetime.now(UTC)
    for c in await svc.storage.consultations.open("vidarebefordrad"):
        if c.reminded_at is not None or c.forwarded_chat_id is None or not reminder_due(c.created, now):
            continue
        text = (
            f"⏰ <b>Påminnelse:</b> konsultationsbegäran <b>{html.escape(c.reference)}</b> från "
            f"{c.created.astimezone(TZ):%Y-%m-%d} ({html.escape(svc.kb.municipality_name(c.municipality))}) är inte "
            "markerad som hanterad. Tryck <b>Hanterad</b> när personen har fått svar."
        )
        try:
            await context.bot.send_message(c.forwarded_chat_id, text, parse_mode=ParseMode.HTML,
                                           reply_markup=keyboard([[("✅ Hanterad", f"done:{c.reference}")]]))
        except TimedOut as exc:
            if safe_to_retry(exc):
                continue
        except TelegramError as exc:
            _LOGGER.warning("Påminnelsen om %s nådde inte fram: %s", c.reference, type(exc).__name__)
            continue
        await svc.storage.consultations.mark_reminded(c.reference)


# --------------------------------------------------------------------------- the process leaders' list


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
    if not await _forward(svc, context.bot, c):
        await query.edit_message_text(f"{reference} nådde inte {dest.label}; Lotsen försöker igen.")
        await _after_failure(context.application, reference)
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
