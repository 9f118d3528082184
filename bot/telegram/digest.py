"""The weekly digest to the process leaders, and confirming contacts with one tap.

Every Monday at 08:00 Swedish time each admin (LOTSEN_ADMINS) gets one message
with what needs doing: stale contacts (not verified within LOTSEN_VERIFY_DAYS),
open consultations, and unanswered and 👎 questions since last week — or
nothing at all when there is nothing to do. Each stale contact has the buttons
"Stämmer" (stored as a confirmation; `lotsen exportera --kontakter` writes it into
contacts.yaml as `verified:`) and "Ändrad" (flags it for the curator to edit).

Who gets which contacts: a contact whose owner (contacts.yaml `owners:`) has a
`telegram_user_id` goes to that process leader only; all other stale contacts
go to every admin, so none is forgotten. /kontakter shows the same list on demand.
"""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.knowledge.base import ContactAge
from bot.telegram.admin import admins_only
from bot.telegram.curate import admin_query
from bot.telegram.sending import send_html
from bot.telegram.services import Services, services, services_of

LOCAL = ZoneInfo("Europe/Stockholm")
DIGEST_TIME = time(8, 0, tzinfo=LOCAL)
MONDAY = 1  # PTB's run_daily counts 0-6 from Sunday
MAX_CONTACT_BUTTONS = 10
NOTHING_STALE = "Alla kontakter är kontrollerade inom {days} dagar."


def local_today() -> date:
    return datetime.now(LOCAL).date()


async def stale_for(svc: Services, admin_id: int, today: date) -> list[ContactAge]:
    """The stale contacts this admin should check: their own, and those no one with Telegram owns."""
    owners = svc.kb.contacts.owners
    confirmed = await svc.storage.curation.contact_confirmations()
    out = []
    for item in svc.kb.contact_ages(today, confirmed):
        if not item.stale(svc.settings.verify_days):
            continue
        owner = owners.get(item.contact.owner)
        if owner is None or owner.telegram_user_id is None or owner.telegram_user_id == admin_id:
            out.append(item)
    return sorted(out, key=lambda a: (a.verified or date.min, a.contact.id))


def _contact_line(item: ContactAge) -> str:
    c = item.contact
    when = f"kontrollerad {item.verified} ({item.age} dagar sedan)" if item.verified else "aldrig kontrollerad"
    return f"• {html.escape(c.name)}, {html.escape(item.where)} – {html.escape(c.phone)} – {when}"


def contact_rows(items: list[ContactAge]) -> list[list[InlineKeyboardButton]]:
    rows = []
    for item in items[:MAX_CONTACT_BUTTONS]:
        name = item.contact.name if len(item.contact.name) <= 28 else item.contact.name[:27] + "…"
        rows.append([
            InlineKeyboardButton(f"✅ Stämmer: {name}", callback_data=f"ck:ok:{item.contact.id}"),
            InlineKeyboardButton("✏️ Ändrad", callback_data=f"ck:ny:{item.contact.id}"),
        ])
    return rows


async def build_digest(svc: Services, admin_id: int, now: datetime) -> tuple[str, InlineKeyboardMarkup] | None:
    """The digest for one admin, or None when there is nothing to do."""
    stale = await stale_for(svc, admin_id, now.astimezone(LOCAL).date())
    counts = await svc.storage.statistics.digest_counts(now - timedelta(days=7))
    if not stale and not any(counts.values()):
        return None
    parts = ["<b>Lotsen – veckans att göra</b>"]
    if stale:
        parts.append(f"\n<b>Kontakter att kontrollera ({len(stale)})</b>, äldre än {svc.settings.verify_days} dagar:")
        parts += [_contact_line(i) for i in stale[:MAX_CONTACT_BUTTONS]]
        if len(stale) > MAX_CONTACT_BUTTONS:
            parts.append(f"… och {len(stale) - MAX_CONTACT_BUTTONS} till (lotsen kontakter --inaktuella)")
    parts.append(f"\nÖppna konsultationer: {counts['open_consultations']}")
    parts.append(f"Sedan förra veckan: {counts['unanswered']} obesvarade frågor, {counts['thumbs_down']} 👎")
    rows = contact_rows(stale)
    if counts["unanswered"] or counts["thumbs_down"]:
        rows.append([InlineKeyboardButton("Visa obesvarade", callback_data="cu-list")])
    return "\n".join(parts), InlineKeyboardMarkup(rows)


async def weekly_digest(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends each admin their digest; an admin who has not started the bot is skipped."""
    svc = services_of(context.application)
    now = datetime.now(LOCAL)
    for admin_id in sorted(svc.settings.admins):
        digest = await build_digest(svc, admin_id, now)
        if digest is None:
            continue
        text, keyboard = digest
        try:
            await send_html(context.bot, admin_id, text, reply_markup=keyboard)
        except TelegramError:
            continue  # one admin's blocked chat must not stop the others' digests


def schedule_digest(application: Application) -> None:
    """Runs the digest every Monday at 08:00 Europe/Stockholm."""
    if application.job_queue is not None:
        application.job_queue.run_daily(weekly_digest, DIGEST_TIME, days=(MONDAY,), name="lotsen-digest")


@admins_only
async def on_kontakter(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists the stale contacts with a Stämmer and an Ändrad button each."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    svc = services(context)
    stale = await stale_for(svc, user.id, local_today())
    if not stale:
        await message.reply_text(NOTHING_STALE.format(days=svc.settings.verify_days))
        return
    text = "\n".join([f"<b>Kontakter att kontrollera ({len(stale)})</b>", *[_contact_line(i) for i in stale[:MAX_CONTACT_BUTTONS]]])
    await send_html(context.bot, message.chat_id, text, reply_markup=InlineKeyboardMarkup(contact_rows(stale)))


async def on_contact_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stores that a contact is still right (Stämmer) or has changed (Ändrad)."""
    if not await admin_query(update, context):
        return
    query = update.callback_query
    assert query is not None and query.data is not None and query.from_user is not None
    svc = services(context)
    _, verdict, contact_id = query.data.split(":", 2)
    contact = next((a.contact for a in svc.kb.contact_ages(local_today()) if a.contact.id == contact_id), None)
    if contact is None:
        return
    action = "confirmed" if verdict == "ok" else "changed"
    await svc.storage.curation.add_contact_check(contact_id, action, svc.user_key(query.from_user.id), local_today())
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    if markup is not None:
        rows = [row for row in markup.inline_keyboard if not any(b.callback_data in (f"ck:ok:{contact_id}", f"ck:ny:{contact_id}") for b in row)]
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows))
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if action == "confirmed":
        reply = f"✅ {html.escape(contact.name)} är kontrollerad {local_today()}. Skriv in det i contacts.yaml med <code>lotsen exportera --kontakter</code>."
    else:
        reply = (f"✏️ Noterat att {html.escape(contact.name)} har ändrats. Rätta kontakten i contacts.yaml "
                 "(docs/kurera.md, avsnitt 2), kör <code>lotsen kontrollera</code> och sedan /ladda_om.")
    await send_html(context.bot, chat_id, reply)
