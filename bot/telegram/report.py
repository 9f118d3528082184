"""/rapport: the steering group's report (bot.ops.report) sent to a process leader as an HTML document."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from telegram import Update
from telegram.ext import ContextTypes

from bot.ops.report import build_report
from bot.telegram.admin import admins_only
from bot.telegram.digest import LOCAL
from bot.telegram.services import services

DEFAULT_DAYS = 91  # a quarter, when no period is given
USAGE = "Skriv /rapport för de senaste tre månaderna, eller /rapport 2026-09-01 2026-11-30."


@admins_only
async def on_rapport(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the report for a period (default the last 91 days) as an HTML file."""
    message = update.effective_message
    assert message is not None
    svc = services(context)
    args = context.args or []
    today = datetime.now(LOCAL).date()
    try:
        first, last = (datetime.fromisoformat(args[0]).date(), datetime.fromisoformat(args[1]).date()) if len(args) == 2 else (today - timedelta(days=DEFAULT_DAYS - 1), today)
    except ValueError:
        await message.reply_text(USAGE)
        return
    if last < first or len(args) not in (0, 2):
        await message.reply_text(USAGE)
        return
    start = datetime.combine(first, time(), LOCAL)
    end = datetime.combine(last + timedelta(days=1), time(), LOCAL)
    document = await build_report(svc.storage, svc.kb, start, end, svc.settings.verify_days)
    await context.bot.send_document(
        message.chat_id, document.encode("utf-8"), filename=f"lotsen-rapport-{first}-{last}.html",
        caption=f"Rapport till styrgruppen, {first} – {last}. Öppna i en webbläsare; skriv ut som PDF vid behov.",
    )
