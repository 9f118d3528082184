"""Method material: /hjulet sends Barnets bästa-hjulet as an image, /material lists all materials."""

from __future__ import annotations

import asyncio
import html

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from bot.core.render import utf16_len
from bot.ops.wheel import draw_wheel
from bot.telegram.sending import send_html
from bot.telegram.services import services
from bot.text.normalize import fold as _fold

CAPTION_LIMIT = 1024
# Words after /hjulet that ask for the outline version (compared accent-free, lower case).
UNCOLOURED = frozenset({"ofargat", "ofargad", "svartvit", "svartvitt", "utskrift", "print", "kontur"})


def _wants_uncoloured(args: list[str] | None) -> bool:
    return any(_fold(a) in UNCOLOURED for a in args or [])


async def on_wheel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends Barnets bästa-hjulet (coloured, or uncoloured with /hjulet ofärgat) with its questions."""
    message = update.effective_message
    if message is None:
        return
    svc = services(context)
    wheel = svc.kb.wheel
    coloured = not _wants_uncoloured(context.args)
    await context.bot.send_chat_action(message.chat_id, ChatAction.UPLOAD_PHOTO)
    png = await asyncio.to_thread(draw_wheel, wheel, coloured=coloured)
    lines = [f"<b>{html.escape(wheel.title)}</b>" + ("" if coloured else " (ofärgat, för utskrift)")]
    lines += [f"• <b>{html.escape(a.name)}</b>: {html.escape(a.question)}" for a in wheel.areas]
    caption = "\n".join(lines)
    questions_apart = utf16_len(caption) > CAPTION_LIMIT
    filename = "barnets-basta-hjulet.png" if coloured else "barnets-basta-hjulet-ofargat.png"
    await context.bot.send_photo(
        message.chat_id, png, filename=filename,
        caption=lines[0] if questions_apart else caption, parse_mode=ParseMode.HTML,
    )
    if questions_apart:
        await send_html(context.bot, message.chat_id, "\n".join(lines[1:]))


async def on_materials(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists every method material with what it is and where to find it."""
    message = update.effective_message
    if message is None:
        return
    svc = services(context)
    lines = ["<b>Metodmaterial</b>"]
    for m in sorted(svc.kb.materials.values(), key=lambda m: m.title.lower()):
        lines.append("")
        lines.append(f"<b>{html.escape(m.title)}</b>")
        lines.append(html.escape(m.description.strip()))
        lines.append(f"Finns: {html.escape(m.where.strip())}")
    lines += ["", "Barnets bästa-hjulet som bild: /hjulet"]
    await send_html(context.bot, message.chat_id, "\n".join(lines))
