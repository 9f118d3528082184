"""The process leaders' curation loop in Telegram: /obesvarade, /angra and their buttons.

/obesvarade shows each question Lotsen declined, was unsure about or got 👎 for,
with up to three suggested topics as buttons. One tap adds the text to the
learned overlay (bot.knowledge.learned) and reloads the knowledge base off the event
loop; "Utanför Lotsens område" adds it to the off-topic examples; "Ignorera"
hides it. Every act is stored with the admin's pseudonym and time
(storage.curation_acts) and can be undone with the Ångra button or /angra.
Intended declines (salary, lunch, leave …) are listed apart from real misses.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.core.curation_loop import is_intended_decline, suggest_topics
from bot.knowledge import learned
from bot.telegram.access import PRIVATE_BUTTON, in_private_chat
from bot.telegram.admin import NOT_ADMIN, admins_only
from bot.telegram.sending import send_html
from bot.telegram.services import Services, services
from bot.text.identifiers import placeholders_to_space

MAX_MISSES = 8  # real misses shown per /obesvarade (one message each, with buttons)
MAX_INTENDED = 4  # intended declines shown after them
NOTHING = "Inget att kurera just nu: inga obesvarade, osäkra eller 👎-markerade frågor som väntar."
ACT_DONE = {
    "topic": "✅ Tillagd som formulering i <b>{topic}</b>. Nästa likadana fråga går dit.",
    "offtopic": "✅ Tillagd som exempel på frågor utanför Lotsens område.",
    "ignore": "Dold från /obesvarade.",
}


def _reason(kb_topics: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    if row.get("feedback") == -1:
        return "👎 från användaren"
    if row.get("declined"):
        return "avböjd"
    topic = kb_topics.get(row.get("top_topic") or "")
    name = topic.name if topic else row.get("top_topic")
    return f"osäker träff: {name} ({(row.get('top_score') or 0.0):.2f})"


def _item_text(svc: Services, row: Mapping[str, Any]) -> str:
    day = str(row.get("created") or "")[:10]
    where = svc.kb.municipality_name(row.get("municipality")) if row.get("municipality") else "okänd kommun"
    return (
        f"#{row['id']}  {day}  {html.escape(where)} – {_reason(svc.kb.topics, row)}\n"
        f"”{html.escape(row.get('text') or '')}”"
    )


def _item_keyboard(svc: Services, row: Mapping[str, Any], suggestions: list[str]) -> InlineKeyboardMarkup:
    qid = row["id"]
    rows = [[InlineKeyboardButton(svc.kb.topics[tid].name, callback_data=f"cu:{qid}:t:{tid}")] for tid in suggestions]
    rows.append([
        InlineKeyboardButton("Utanför Lotsens område", callback_data=f"cu:{qid}:o"),
        InlineKeyboardButton("Ignorera", callback_data=f"cu:{qid}:i"),
    ])
    return InlineKeyboardMarkup(rows)


async def send_curation_list(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Sends the questions to curate to a chat: real misses first, intended declines apart."""
    svc = services(context)
    rows = await svc.storage.curation.queue(limit=50)
    if not rows:
        await context.bot.send_message(chat_id, NOTHING)
        return
    kb, router = svc.kb, svc.router
    intended = [r for r in rows if is_intended_decline(kb, r)]
    misses = [r for r in rows if r not in intended]
    await send_html(
        context.bot, chat_id,
        f"<b>Att kurera:</b> {len(misses)} missar och {len(intended)} avsiktligt avböjda frågor. "
        "Tryck på ämnet frågan hör till så lär sig Lotsen formuleringen. /angra ångrar det senaste.",
    )
    shown = misses[:MAX_MISSES] + intended[:MAX_INTENDED]
    suggestions = await asyncio.to_thread(lambda: [suggest_topics(router, kb, r) for r in shown])
    for n, (row, topics) in enumerate(zip(shown, suggestions, strict=True)):
        if n == len(misses[:MAX_MISSES]):
            await send_html(context.bot, chat_id, "<b>Avböjda med avsikt</b> (frågor om t.ex. lön, ledighet eller lunch):")
        await send_html(context.bot, chat_id, _item_text(svc, row), reply_markup=_item_keyboard(svc, row, topics))


@admins_only
async def on_obesvarade(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows each unanswered, unsure or 👎 question with suggested topics as buttons."""
    message = update.effective_message
    assert message is not None
    await send_curation_list(context, message.chat_id)


async def admin_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Answers the button press; False (with a polite no) for anyone not in LOTSEN_ADMINS, or outside a private chat."""
    query = update.callback_query
    assert query is not None
    if not services(context).is_admin(query.from_user.id if query.from_user else None):
        await query.answer(NOT_ADMIN, show_alert=True)
        return False
    if not in_private_chat(update):
        await query.answer(PRIVATE_BUTTON, show_alert=True)
        return False
    await query.answer()
    return True


async def _apply(svc: Services, action: str, text: str, topic: str | None, undo: bool = False) -> str | None:
    """Writes (or takes out) the overlay entry and reloads; returns the problem if the reload failed."""
    async with svc.learned_lock:
        change = learned.remove if undo else learned.add
        await asyncio.to_thread(change, svc.settings.learned_path, action, text, topic)
        error = await svc.reload()
        if error is not None and not undo:
            await asyncio.to_thread(learned.remove, svc.settings.learned_path, action, text, topic)
            await svc.reload()
    return str(error.problems[0]) if error is not None else None


async def on_curate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Adds a question as a topic phrasing or off-topic example, or hides it."""
    if not await admin_query(update, context):
        return
    query = update.callback_query
    assert query is not None and query.data is not None and query.from_user is not None
    svc = services(context)
    _, qid_text, kind, *rest = query.data.split(":")
    qid, topic = int(qid_text), (rest[0] if rest else None)
    action = {"t": "topic", "o": "offtopic", "i": "ignore"}[kind]
    if action == "topic" and topic not in svc.kb.topics:
        await query.edit_message_reply_markup(None)
        return
    stored = await svc.storage.questions.text(qid)
    if not stored:
        await query.edit_message_text("Frågan finns inte längre (texten är rensad).")
        return
    # The knowledge base learns the words, not the placeholders of what was removed ("[namn] i 8B …").
    text = " ".join(placeholders_to_space(stored).split())
    act = await svc.storage.curation.add_curation_act(qid, action, topic, None if action == "ignore" else text, svc.user_key(query.from_user.id))
    if act is None:
        await query.edit_message_reply_markup(None)  # another tap already handled it
        return
    try:
        problem = await _apply(svc, action, text, topic) if action != "ignore" else None
    except OSError as exc:
        problem = (f"kan inte skriva {svc.settings.learned_path} ({exc.strerror or type(exc).__name__}) — "
                   "sätt LOTSEN_LEARNED till en fil som Lotsen får skriva")
    if problem is not None:
        await svc.storage.curation.undo_curation_act(svc.user_key(query.from_user.id), act)
        await send_html(context.bot, query.message.chat.id if query.message else query.from_user.id,
                        f"Det gick inte att lägga till: {html.escape(problem)}")
        return
    done = ACT_DONE[action].format(topic=html.escape(svc.kb.topics[topic].name) if topic else "")
    await query.edit_message_text(
        f"{_quote(text)}\n{done}", parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Ångra", callback_data=f"cu-undo:{act}")]]),
    )


def _quote(text: str) -> str:
    return f"”{html.escape(text)}”"


async def _undo(svc: Services, admin_key: str, act_id: int | None) -> str:
    """Undoes an act and says what was undone, in Swedish."""
    act = await svc.storage.curation.undo_curation_act(admin_key, act_id)
    if act is None:
        return "Det finns inget att ångra."
    if act["action"] in ("topic", "offtopic") and act["text"]:
        await _apply(svc, act["action"], act["text"], act["topic"], undo=True)
    where = {
        "topic": f"formuleringen i {html.escape(svc.kb.topics[act['topic']].name) if act['topic'] in svc.kb.topics else act['topic']}",
        "offtopic": "exemplet på frågor utanför Lotsens område",
        "ignore": "att frågan doldes",
    }[act["action"]]
    return f"Ångrat: {where} (fråga #{act['question_id']}). Frågan visas igen i /obesvarade."


async def on_undo_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Undoes the act whose Ångra button was pressed."""
    if not await admin_query(update, context):
        return
    query = update.callback_query
    assert query is not None and query.data is not None and query.from_user is not None
    svc = services(context)
    reply = await _undo(svc, svc.user_key(query.from_user.id), int(query.data.split(":")[1]))
    await query.edit_message_text(reply, parse_mode="HTML")


@admins_only
async def on_angra(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Undoes the admin's latest curation act."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    svc = services(context)
    await send_html(context.bot, message.chat_id, await _undo(svc, svc.user_key(user.id), None))


async def on_show_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows /obesvarade from the digest's button."""
    if not await admin_query(update, context):
        return
    query = update.callback_query
    assert query is not None and query.from_user is not None
    await send_curation_list(context, query.message.chat.id if query.message else query.from_user.id)
