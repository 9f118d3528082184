"""Questions: free text in, the router's answer out, with feedback and clarification buttons.

Exactly-once, as far as Telegram allows. Every update reaches this module from
the durable inbox (`bot.telegram.polling`), where it was stored — personnummer
already removed — before Telegram was told it had arrived. The question is
logged under the source key ``tg:<update_id>``, and the order is:

1. if a question with this source key is already logged, stop: the update is a
   replay after a crash that came after step 3, and the user has the answer;
2. route and send the answer;
3. log the question (then the inbox marks the update done).

A crash between 2 and 3 replays the update on restart and the user gets the
answer a second time; a crash between 3 and "done" is caught by step 1. So a
question is logged exactly once and answered at least once — the only window
for a duplicate answer is the few milliseconds between the last sendMessage
returning and the COMMIT of the log row. Logging first would instead lose the
answer in that window, which is worse for someone waiting for help.

Buttons carry the update id, not the question id, so they can be built before
the question is logged: ``fb:<update_id>:1``, ``rt:<update_id>:<topic>``,
``rk:<update_id>:<municipality>``. Button data can be forged, so a press acts
only on a question logged under the presser's own pseudonym; any other gets a
neutral answer and a log line.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes, filters

from bot.core.answer import Answer, Kind
from bot.core.render import render_html, render_more
from bot.core.router import MAX_INPUT_CHARS
from bot.knowledge.base import KnowledgeBase
from bot.telegram import updatelog
from bot.telegram.consultation import CONVERSATION_TIMEOUT
from bot.telegram.dialogues import reported_lost
from bot.telegram.onboarding import municipality_keyboard
from bot.telegram.sending import keyboard, send_html
from bot.telegram.services import services

_LOGGER = logging.getLogger(__name__)

FEEDBACK_THANKS = "Tack för återkopplingen!"
ONLY_TEXT = (
    "Jag kan bara läsa text. Beskriv med egna ord vad du är orolig för – utan namn och personnummer."
)
UNKNOWN_COMMAND = "Det kommandot känner jag inte igen. Se /hjalp för vad jag kan."
GONE = "Jag hittar inte längre den frågan (texter raderas efter en tid). Skriv gärna frågan igen."
NOT_YOURS = "Den knappen kan jag inte använda. Ställ gärna en ny fråga."


def source_key(update_id: int) -> str:
    return f"tg:{update_id}"


class _AddressedToBot(filters.MessageFilter):
    """Private messages, and group messages that mention the bot or reply to it."""

    def filter(self, message: Message) -> bool:
        if message.chat.type == "private":
            return True
        bot = message.get_bot()
        text = (message.text or "").lower()
        if bot.username and f"@{bot.username.lower()}" in text:
            return True
        reply = message.reply_to_message
        return bool(reply and reply.from_user and reply.from_user.id == bot.id)


ADDRESSED_TO_BOT = _AddressedToBot(name="addressed_to_bot")


def _strip_mention(text: str, username: str | None) -> str:
    if not username:
        return text
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


def answer_keyboard(answer: Answer, update_id: int, kb: KnowledgeBase) -> InlineKeyboardMarkup | None:
    """Buttons under an answer: clarification choices, 👍/👎, and "Begär konsultation"."""
    if answer.kind not in (Kind.ANSWER, Kind.CLARIFY):
        return None
    rows: list[list[tuple[str, str]]] = []
    for topic_id in answer.clarify_topics:
        if topic_id in kb.topics:
            rows.append([(kb.topics[topic_id].name, f"rt:{update_id}:{topic_id}")])
    if answer.clarify_municipality:
        rows += [
            [(b.text, str(b.callback_data)) for b in row]
            for row in municipality_keyboard(kb, prefix=f"rk:{update_id}:").inline_keyboard
        ]
    if answer.kind is Kind.ANSWER:
        if answer.top_topic in kb.topics:
            rows.append([(f"Mer om {kb.topics[answer.top_topic].name.lower()}"[:60], f"mer:{answer.top_topic}")])
        rows.append([("👍 Bra svar", f"fb:{update_id}:1"), ("👎 Inte till hjälp", f"fb:{update_id}:-1")])
        rows.append([("Begär konsultation", f"kons:{answer.top_topic or ''}")])
    for row in rows:
        for _, data in row:
            assert len(data.encode()) <= 64, data
    return keyboard(rows)




async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers a question with the router's advice and logs it once."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.text is None:
        return
    svc = services(context)
    key = source_key(update.update_id)
    if await svc.storage.questions.id_for(key) is not None:
        _LOGGER.info("Update %s är redan besvarad (omleverans), svarar inte igen", update.update_id)
        return
    if message.chat.type == "private" and await reported_lost(update, context, CONVERSATION_TIMEOUT):
        return  # an answer meant for a dialogue a restart cut off: not a question, not logged
    # The inbox has already redacted; this one does no harm and covers updates that did not come through it.
    text = svc.redact_written(_strip_mention(message.text, context.bot.username))
    user_key = svc.user_key(user.id)
    profile = await svc.storage.users.get(user_key)
    answer = await svc.route(text, profile.municipality if profile else None)
    updatelog.note(context, update, answer=str(answer.kind), risk=str(answer.risk),
                   topics=[t.id for t in answer.topics])
    if update.update_id not in svc.answered:  # else an earlier attempt sent it and only the log failed
        reply = render_html(answer, svc.kb, profile.role if profile else None)
        await send_html(context.bot, message.chat_id, reply,
                        reply_markup=answer_keyboard(answer, update.update_id, svc.kb))
        svc.answered.add(update.update_id)
    await svc.storage.questions.log(
        source_key=key,
        user_key=user_key,
        municipality=answer.municipality,
        role=profile.role if profile else None,
        text=text[:MAX_INPUT_CHARS],
        topics=[{"id": t.id, "score": t.score} for t in answer.topics],
        declined=answer.declined,
        kind=str(answer.kind),
        urgent=answer.urgent,
        personnummer=answer.personnummer,
    )


async def on_feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stores 👍 or 👎 for the question and removes the feedback buttons."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    _, update_id, value = query.data.split(":")
    svc = services(context)
    question_id = await svc.storage.questions.id_for(source_key(int(update_id)))
    if question_id is None or not await svc.storage.questions.set_feedback(question_id, int(value), svc.user_key(user.id)):
        _LOGGER.warning("Återkopplingsknapp för en fråga som inte är användarens egen (update %s)", update.update_id)
        await query.answer(NOT_YOURS)
        return
    await query.answer(FEEDBACK_THANKS)
    message = query.message
    if isinstance(message, Message) and message.reply_markup is not None:
        rows = [
            [(b.text, str(b.callback_data)) for b in row if not str(b.callback_data).startswith("fb:")]
            for row in message.reply_markup.inline_keyboard
        ]
        await query.edit_message_reply_markup(keyboard([r for r in rows if r]))


async def on_clarify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Re-routes the stored question with the topic or municipality the user chose."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None or query.message is None:
        return
    await query.answer()
    kind, update_id, choice = query.data.split(":", 2)
    svc = services(context)
    stored = await svc.storage.questions.by_source(source_key(int(update_id)))
    user_key = svc.user_key(user.id)
    if stored is not None and stored.get("user_key") != user_key:
        # Only the asker may re-route a question: button data can be forged with any update id.
        _LOGGER.warning("Förtydligandeknapp för en fråga som inte är användarens egen (update %s)", update.update_id)
        stored = None
    if stored is None or not stored.get("text"):
        await context.bot.send_message(query.message.chat.id, GONE)
        return
    profile = await svc.storage.users.get(user_key)
    municipality = stored.get("municipality") or (profile.municipality if profile else None)
    if kind == "rk" and choice in svc.kb.municipalities:
        municipality = choice
        await svc.storage.users.save(svc.user_key(user.id), municipality=choice)
    answer = await svc.route(stored["text"], municipality, topic=choice if kind == "rt" else None)
    role = profile.role if profile else None
    await send_html(context.bot, query.message.chat.id, render_html(answer, svc.kb, role),
                    reply_markup=answer_keyboard(answer, int(update_id), svc.kb))


async def on_more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the full advice of the topic behind the "Mer om …" button."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    await query.answer()
    topic = services(context).kb.topics.get(query.data.removeprefix("mer:"))
    if topic is None:
        await context.bot.send_message(query.message.chat.id, GONE)
        return
    await send_html(context.bot, query.message.chat.id, render_more(topic))


async def on_unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers a button press Lotsen does not recognise, so the button stops spinning."""
    query = update.callback_query
    if query is None:
        return
    _LOGGER.warning("Okänd knappdata (update %s)", update.update_id)
    await query.answer(NOT_YOURS)


async def on_not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells the user that only text is read (photos, voice and stickers are not)."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(ONLY_TEXT)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Points to /hjalp for a command Lotsen does not know."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(UNKNOWN_COMMAND)
