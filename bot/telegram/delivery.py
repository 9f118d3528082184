"""Delivery of consultation requests: who receives one, forwarding with retries, the one reminder, "Hanterad".

A request always reaches a person. `lotsen kor` refuses to start while a
municipality has no destination (`destination_problem`), unless requests are
turned off (LOTSEN_KONSULTATION=av). A forward that fails is tried again by a
JobQueue job with backoff (FORWARD_RETRY_DELAYS, attempts counted in the row);
after the last try the admins are told. A read timeout is "maybe delivered":
recorded as forwarded to that chat and never re-sent. A request open two Swedish
working days reminds the receiving chat once (`remind_open`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import holidays
from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError, TimedOut
from telegram.ext import Application, ContextTypes

from bot.config import Settings
from bot.core.contacts import TZ
from bot.knowledge.base import KnowledgeBase
from bot.storage.consultations import Consultation
from bot.telegram.access import in_private_chat
from bot.telegram.sending import keyboard, safe_to_retry
from bot.telegram.services import Services, services, services_of

_LOGGER = logging.getLogger(__name__)


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


URGENCY_LABELS = {
    "akut": "Akut – behöver svar i dag",
    "snart": "Snart – inom några dagar",
    "kan_vanta": "Kan vänta",
}


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
    """Why `lotsen kor` must not start (a request could reach nobody), or None."""
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
        "  • ge BUP-kontakterna telegram_chat_id i contacts.yaml och kör lotsen kontrollera;\n"
        "  • eller stäng av förfrågningar uttryckligen med LOTSEN_KONSULTATION=av "
        "(då får användarna BUP-kontaktens telefonnummer i stället)."
    )


def forward_text(svc: Services, c: Consultation) -> str:
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


async def forward(svc: Services, bot, c: Consultation) -> bool:  # noqa: ANN001 - an ExtBot
    """Sends the request to its recipient; True when delivered or maybe delivered (a read timeout)."""
    dest = destination(svc.kb, svc.settings, c.municipality)
    if dest.chat_id is None:
        return False
    try:
        sent = await bot.send_message(
            dest.chat_id, forward_text(svc, c), parse_mode=ParseMode.HTML,
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


async def after_failure(application: Application, reference: str) -> None:
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
    await tell_admins(application, reference, attempts)


async def tell_admins(application: Application, reference: str, attempts: int) -> None:
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
    if not await forward(svc, context.bot, c):
        await after_failure(context.application, reference)
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


async def on_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Marks a forwarded consultation handled and tells the requester."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None or not isinstance(query.message, Message):
        return
    svc = services(context)
    reference = query.data.removeprefix("done:")
    current = await svc.storage.consultations.get(reference)
    # From the chat it was sent to, or a process leader's private chat (/konsultationer): never a
    # forged press in some other chat, where the edited message would show the request to others.
    allowed = current is not None and (
        current.forwarded_chat_id == query.message.chat.id or (svc.is_admin(user.id) and in_private_chat(update))
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
        forward_text(svc, handled) + f"\n\n✅ <b>Hanterad</b> av {html.escape(user.first_name)}",
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
