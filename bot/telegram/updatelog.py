"""One log line per handled update: update id, kind, topic ids, risk and milliseconds.

Two TypeHandlers frame every update: `on_begin` (group -1, before all
handlers) starts the clock, `on_end` (group 1, after them) writes the line.
Handlers add what they know with `note(context, update, ...)` (the question
handler adds topic ids and risk). The line never carries message text, user
or chat ids, or tokens — only fixed words and numbers — so it is safe at INFO.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

_LOGGER = logging.getLogger("bot.updates")
_KEY = "lotsen.updatelog"
_WORD = re.compile(r"^[a-z_]{1,20}$")


def _notes(application: Application) -> dict[int, dict[str, Any]]:
    return application.bot_data.setdefault(_KEY, {})


def kind_of(update: Update) -> str:
    """A fixed word for the kind of update (a known-shaped command or button prefix, never free text)."""
    if update.callback_query is not None:
        prefix = (update.callback_query.data or "").split(":", 1)[0]
        return f"callback:{prefix}" if _WORD.match(prefix) else "callback"
    message = update.effective_message
    if message is not None and message.text is not None:
        if message.text.startswith("/"):
            name = message.text[1:].split(maxsplit=1)[0].split("@", 1)[0] if len(message.text) > 1 else ""
            return f"command:{name}" if _WORD.match(name) else "command"
        return "message"
    if message is not None:
        return "media"
    return "other"


def note(context: ContextTypes.DEFAULT_TYPE, update: Update, **fields: Any) -> None:
    """Adds fields (topic ids, risk, answer kind …) to this update's log line."""
    _notes(context.application).setdefault(update.update_id, {}).update(fields)


async def on_begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Starts the clock for this update's log line."""
    _notes(context.application)[update.update_id] = {"_t0": time.perf_counter()}


async def on_end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Writes this update's one log line."""
    fields = _notes(context.application).pop(update.update_id, {})
    t0 = fields.pop("_t0", None)
    record: dict[str, Any] = {"update_id": update.update_id, "kind": kind_of(update)}
    record.update(fields)
    if t0 is not None:
        record["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    # The fields travel as structured data (bot.ops.logformat renders them), past the id-redacting filter.
    _LOGGER.info("update", extra={"lotsen": record})


def register(application: Application) -> None:
    """Frames every update with on_begin and on_end."""
    application.add_handler(TypeHandler(Update, on_begin), group=-1)
    application.add_handler(TypeHandler(Update, on_end), group=1)
