"""The user's own data: `/mina_uppgifter` shows what Lotsen holds, `/glom_mig` removes it (with a confirmation).

Both answer only in a private chat. Forgetting keeps only anonymous counts
(`bot.storage.subjects`); the confirmation button works only for the user who
asked, in their own chat.
"""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.telegram.access import in_private_chat
from bot.telegram.onboarding import ROLES
from bot.telegram.sending import keyboard
from bot.telegram.services import services

FORGET_ASK = (
    "<b>Vill du att Lotsen glömmer dig?</b>\n"
    "Jag tar bort din roll och kommun, texten i alla dina frågor, dina konsultationers text och "
    "kontaktuppgifter och allt som kopplar dem till dig. Kvar blir bara anonyma räknare (ämne, kommun, "
    "datum) för statistiken. Det går inte att ångra."
)
FORGOTTEN = (
    "Klart – jag har glömt dig: {questions} frågor och {consultations} konsultationer saknar nu text och "
    "koppling till dig, och din profil är borttagen. Vill du använda Lotsen igen: /start."
)
KEPT = "Inget är borttaget."
NOT_YOURS = "Den här knappen är inte din."


def _holdings_text(role: str | None, municipality: str | None, questions: int, since: str | None,
                   consultations: list[str], retention_days: int) -> str:
    lines = ["<b>Det här har Lotsen om dig</b>"]
    if role or municipality:
        lines.append(f"• Roll: {html.escape(ROLES.get(role or '', role or 'inte vald'))}; "
                     f"kommun: {html.escape(municipality or 'inte vald')}")
    else:
        lines.append("• Ingen profil (roll eller kommun).")
    if questions:
        lines.append(f"• {questions} frågor sedan {since} – utan namn, nummer och adresser, under en pseudonym. "
                     f"Texterna raderas efter {retention_days} dagar.")
    else:
        lines.append("• Inga sparade frågor.")
    if consultations:
        lines.append(f"• Pågående konsultationer: {html.escape(', '.join(consultations))} (se /mina).")
    lines += ["", "Ditt Telegram-id och namn sparas inte. Vill du att allt tas bort: /glom_mig"]
    return "\n".join(lines)


async def on_my_data(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows the user what Lotsen holds about them (no texts: counts, profile and references)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    svc = services(context)
    held = await svc.storage.subjects.holdings(svc.user_key(user.id))
    municipality = svc.kb.municipality_name(held.municipality) if held.municipality else None
    since = held.first_question.date().isoformat() if held.first_question else None
    consultations = [f"{ref} ({status})" for ref, status in held.open_consultations]
    await message.reply_text(
        _holdings_text(held.role, municipality, held.questions, since, consultations, svc.settings.retention_days),
        parse_mode=ParseMode.HTML,
    )


async def on_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Asks the user to confirm that everything about them is to be removed."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    buttons = keyboard([[("Ja, glöm mig", f"glom:ja:{user.id}"), ("Nej", f"glom:nej:{user.id}")]])
    await message.reply_text(FORGET_ASK, parse_mode=ParseMode.HTML, reply_markup=buttons)


async def on_forget_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removes the user's data on "Ja" (their own button, in their private chat); "Nej" removes nothing."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None or query.message is None:
        return
    _, answer, owner = query.data.split(":")
    if owner != str(user.id) or not in_private_chat(update):
        await query.answer(NOT_YOURS, show_alert=True)
        return
    await query.answer()
    if answer != "ja":
        await query.edit_message_text(KEPT)
        return
    svc = services(context)
    gone = await svc.storage.subjects.forget(svc.user_key(user.id), query.message.chat.id, keep_update=update.update_id)
    await query.edit_message_text(FORGOTTEN.format(questions=gone.questions, consultations=gone.consultations))
