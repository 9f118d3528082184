"""Getting to know the user: /start (with deep links), role and municipality, /kommun, /hjalp, /om.

The profile (role and municipality) is kept in the users table under the
user's pseudonym, so it survives restarts and is never tied to a Telegram id.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.knowledge.base import KnowledgeBase
from bot.telegram.sending import keyboard, send_html
from bot.telegram.services import services

# Roles a user can pick: callback id -> label. Ids are short ASCII (callback_data is 64 bytes).
ROLES: dict[str, str] = {
    "larare": "Lärare/mentor",
    "elevhalsa": "Elevhälsa",
    "rektor": "Rektor/förskolechef",
    "annan": "Annan",
}
DEEP_LINK_MUNICIPALITY = "kommun_"

INTRO = (
    "Hej! Jag är <b>Lotsen</b> – en hjälp för dig som arbetar i skolan i Sörmland och är orolig för en elev.\n\n"
    "Beskriv med egna ord vad du ser, så berättar jag vart du kan vända dig: BUP:s kontaktperson för din "
    "kommun, socialtjänsten, elevhälsan eller metodmaterial.\n\n"
    "<b>Lotsen är inte en akut tjänst.</b> Är ett barn i fara just nu: ring <b>112</b>.\n"
    "Skriv aldrig namn eller personnummer – beskriv situationen, inte personen."
)
ASK_ROLE = "Vilken är din roll?"
ASK_MUNICIPALITY = "I vilken kommun arbetar du?"
READY = (
    "Klart! Skriv nu vad du är orolig för, till exempel:\n"
    "<i>”Elev i åk 8 har varit borta mycket i höst och verkar nedstämd – vart vänder jag mig?”</i>\n\n"
    "Fler exempel: /hjalp"
)
HELP = (
    "<b>Så använder du Lotsen</b>\n"
    "Skriv vad du är orolig för med egna ord. Exempel:\n"
    "• <i>Eleven har hög frånvaro och vill inte komma till skolan</i>\n"
    "• <i>Misstänker ADHD hos en elev i åk 3, vem ska jag prata med?</i>\n"
    "• <i>En elev berättar att pappa slår hemma</i>\n"
    "• <i>Hur kallar jag till en SIP i Katrineholm?</i>\n\n"
    "Nämner du en kommun i texten gäller svaret den kommunen.\n\n"
    "<b>Kommandon</b>\n"
    "/kommun – byt kommun (t.ex. <code>/kommun Nyköping</code>)\n"
    "/konsultation – begär konsultation med BUP:s kontaktperson\n"
    "/mina – dina konsultationer och deras status\n"
    "/hjulet – Barnets bästa-hjulet (<code>/hjulet ofärgat</code> för utskrift)\n"
    "/material – metodmaterial\n"
    "/om – vad Lotsen sparar\n"
    "/mina_uppgifter – vad Lotsen har sparat om dig\n"
    "/glom_mig – låt Lotsen glömma dig\n"
    "/id – ditt och chattens Telegram-id (för processledarna)\n"
    "/avbryt – avbryt en pågående dialog\n\n"
    "Vid akut fara: ring <b>112</b>. Skriv aldrig namn eller personnummer."
)


def about_text(retention_days: int) -> str:
    return (
        "<b>Om Lotsen och dina uppgifter</b>\n"
        "Lotsen sparar:\n"
        "• din roll och kommun, under en pseudonym (inte ditt Telegram-id eller namn);\n"
        "• dina frågor med vilket ämne de fick, för statistik och för att förbättra svaren;\n"
        "• konsultationer du begär, tills de är hanterade.\n\n"
        "Namn, telefonnummer, e-post- och gatuadresser, registreringsnummer och personnummer tas bort "
        "innan något sparas. Skriv ändå helst inga namn: meddelandet passerar Telegrams servrar innan "
        "Lotsen kan ta bort något.\n"
        f"Texterna raderas efter <b>{retention_days} dagar</b>; kvar blir bara antal per ämne och kommun.\n"
        "Se vad som finns om dig: /mina_uppgifter. Ta bort allt: /glom_mig.\n\n"
        "Kontaktuppgifterna i svaren är exempel tills kommunerna har lämnat riktiga uppgifter."
    )


def role_keyboard() -> InlineKeyboardMarkup:
    items = list(ROLES.items())
    return keyboard([[(label, f"role:{rid}") for rid, label in items[i : i + 2]] for i in range(0, len(items), 2)])


def municipality_keyboard(kb: KnowledgeBase, prefix: str = "kom:") -> InlineKeyboardMarkup:
    """Three municipality buttons per row; callback_data is `prefix` + municipality id."""
    items = sorted(kb.municipalities.values(), key=lambda m: m.name)
    rows = [[(m.name, f"{prefix}{m.id}") for m in items[i : i + 3]] for i in range(0, len(items), 3)]
    return keyboard(rows)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Introduces Lotsen and asks for role (and municipality, unless a deep link gave it)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    svc = services(context)
    key = svc.user_key(user.id)
    note = ""
    if context.args and context.args[0].startswith(DEEP_LINK_MUNICIPALITY):
        wanted = context.args[0][len(DEEP_LINK_MUNICIPALITY) :]
        municipality = wanted if wanted in svc.kb.municipalities else svc.kb.find_municipality(wanted)
        if municipality is not None:
            await svc.storage.users.save(key, municipality=municipality)
            note = f"\n\nKommun: <b>{html.escape(svc.kb.municipality_name(municipality))}</b> (från länken)."
    await send_html(context.bot, message.chat_id, INTRO + note)
    await message.reply_text(ASK_ROLE, reply_markup=role_keyboard())


async def on_role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stores the chosen role, then asks for the municipality if it is still unknown."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    await query.answer()
    role = query.data.removeprefix("role:")
    if role not in ROLES:
        return
    svc = services(context)
    key = svc.user_key(user.id)
    await svc.storage.users.save(key, role=role)
    await query.edit_message_text(f"Roll: {ROLES[role]} ✓")
    profile = await svc.storage.users.get(key)
    chat_id = query.message.chat.id if query.message else user.id
    if profile is None or profile.municipality is None:
        await context.bot.send_message(chat_id, ASK_MUNICIPALITY, reply_markup=municipality_keyboard(svc.kb))
    else:
        await context.bot.send_message(chat_id, READY, parse_mode=ParseMode.HTML)


async def on_municipality(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stores the chosen municipality and confirms it."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    await query.answer()
    svc = services(context)
    municipality = query.data.removeprefix("kom:")
    if municipality not in svc.kb.municipalities:
        await query.edit_message_text("Den kommunen känner jag inte längre igen. Välj igen med /kommun.")
        return
    await svc.storage.users.save(svc.user_key(user.id), municipality=municipality)
    name = svc.kb.municipality_name(municipality)
    await query.edit_message_text(f"Kommun: {name} ✓")
    chat_id = query.message.chat.id if query.message else user.id
    await context.bot.send_message(chat_id, READY, parse_mode=ParseMode.HTML)


async def on_kommun(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Changes the municipality from the name given (fuzzy), or shows the municipality buttons."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    svc = services(context)
    wanted = " ".join(context.args or []).strip()
    if not wanted:
        await message.reply_text(ASK_MUNICIPALITY, reply_markup=municipality_keyboard(svc.kb))
        return
    municipality = svc.kb.find_municipality(wanted)
    if municipality is None:
        await message.reply_text(
            f"Jag hittar ingen kommun i Sörmland som heter ”{html.escape(wanted[:60])}”. Välj en här:",
            parse_mode=ParseMode.HTML,
            reply_markup=municipality_keyboard(svc.kb),
        )
        return
    await svc.storage.users.save(svc.user_key(user.id), municipality=municipality)
    name = svc.kb.municipality_name(municipality)
    await message.reply_text(f"Kommun: <b>{html.escape(name)}</b> ✓ Svaren gäller nu {html.escape(name)}.",
                             parse_mode=ParseMode.HTML)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explains how to ask, with examples and the commands."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(HELP, parse_mode=ParseMode.HTML)


async def on_about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Says what Lotsen stores and for how long."""
    if update.effective_message is not None:
        text = about_text(services(context).settings.retention_days)
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


async def on_id(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells the user their Telegram user id and this chat's id, and what they are for."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or chat is None:
        return
    lines = []
    if user is not None:
        lines.append(f"Ditt användar-id: <code>{user.id}</code>")
    lines.append(f"Den här chattens id: <code>{chat.id}</code>")
    lines.append("")
    lines.append(
        "Processledare: lägg ditt användar-id i LOTSEN_ADMINS (flera åtskilda med komma) för att få "
        "/statistik, /obesvarade och /konsultationer."
    )
    lines.append(
        "Ska konsultationsförfrågningar komma till den här chatten: sätt LOTSEN_CURATOR_CHAT till chattens id "
        "(processledarnas grupp) eller skriv id:t som telegram_chat_id hos BUP-kontakten i contacts.yaml."
    )
    await message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)
