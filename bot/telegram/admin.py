"""Commands for the process leaders (LOTSEN_ADMINS): /statistik, /obesvarade, /ladda_om, /export.

Anyone else gets a polite no, and so does an admin outside a private chat
(`bot.telegram.access.private_only`). Exports leave out pseudonyms, chat ids and
source keys (storage.statistics.export_rows), so a CSV can be shared inside the project.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.ops.curation import display_names, export_csv, format_stats, format_unanswered, stats_chart_png
from bot.telegram.access import Callback, private_only
from bot.telegram.sending import send_html
from bot.telegram.services import services

_LOGGER = logging.getLogger(__name__)

NOT_ADMIN = "Det kommandot är bara för Lotsens processledare. Behöver du statistik? Hör av dig till processledarna."



def admins_only(callback: Callback) -> Callback:
    """Lets LOTSEN_ADMINS through, in a private chat only, and tells everyone else no, politely."""

    @private_only
    @functools.wraps(callback)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, message = update.effective_user, update.effective_message
        if message is None:
            return
        if user is None or not services(context).is_admin(user.id):
            await message.reply_text(NOT_ADMIN)
            return
        await callback(update, context)

    return guarded


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


@admins_only
async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the statistics as a table and as a chart."""
    message = update.effective_message
    assert message is not None
    svc = services(context)
    stats = await svc.storage.statistics.stats()
    names = display_names(svc.kb)
    await send_html(context.bot, message.chat_id, _pre(format_stats(stats, names)))
    png = await asyncio.to_thread(stats_chart_png, stats, names)
    await context.bot.send_photo(message.chat_id, png, filename="lotsen-statistik.png",
                                 caption="Frågor per ämne och vecka")


@admins_only
async def on_unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists questions Lotsen declined or was unsure about."""
    message = update.effective_message
    assert message is not None
    rows = await services(context).storage.questions.unanswered(20)
    await send_html(context.bot, message.chat_id, _pre(format_unanswered(rows)))


@admins_only
async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Validates and reloads the knowledge base; on errors keeps serving the last good one."""
    message = update.effective_message
    assert message is not None
    svc = services(context)
    error = await svc.reload()
    if error is None:
        kb = svc.kb
        await message.reply_text(
            f"Kunskapsbasen är omladdad: {len(kb.topics)} ämnen, {len(kb.materials)} material, "
            f"{len(kb.municipalities)} kommuner."
        )
        return
    lines = "\n".join(str(p) for p in error.problems[:40])
    more = f"\n… och {len(error.problems) - 40} fel till" if len(error.problems) > 40 else ""
    await send_html(
        context.bot, message.chat_id,
        "<b>Kunskapsbasen har fel och laddades inte om.</b> Jag svarar vidare med den förra versionen.\n"
        f"Rätta felen och kör /ladda_om igen:\n{_pre(lines + more)}",
    )


@admins_only
async def on_export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the question log and the consultations as CSV files."""
    message = update.effective_message
    assert message is not None
    storage = services(context).storage
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    for table, label in (("questions", "fragor"), ("consultations", "konsultationer")):
        rows = await storage.statistics.export_rows(table)
        data = export_csv(rows).encode("utf-8-sig")  # BOM: Excel then reads å, ä, ö right
        await context.bot.send_document(
            message.chat_id, data, filename=f"lotsen-{label}-{day}.csv",
            caption=f"{label.capitalize()}: {len(rows)} rader", parse_mode=ParseMode.HTML,
        )
