"""Intake: what the inbox stores of an update from Telegram, checked before it is stored.

Polling and webhook both pass every raw update through `accept` before the
inbox COMMITs it, so that nothing stored can stop the worker:

- **redacted**: direct identifiers are removed — from the text and caption of a
  message every name, number and address (`bot.text.identifiers`, with the
  knowledge base's `Keep`), from every other string the numbers and addresses;
- **reduced**: people and chats keep only their ids and type (names, usernames,
  language and shared contacts are dropped; the handlers need the chat id to
  answer and the user id for the pseudonym). The one name kept is the first
  name of whoever pressed a button, which "Hanterad av …" shows to the curators;
- **validated**: it must have an integer ``update_id``, integer chat and user
  ids, text that is valid Unicode (no lone surrogates), and parse as a PTB
  ``Update``.

An update that fails validation is *quarantined*: stored redacted and reduced
as a failed inbox row (for inspection, pruned with the rest after a week),
counted, never handled. One without an update_id cannot even be stored that
way; it is counted in the log and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.text.identifiers import redact

# Keys whose value is a Telegram User or Chat.
_PEOPLE = frozenset({"from", "chat", "sender_chat", "forward_from", "forward_from_chat", "user", "via_bot"})
# What is kept of a User or Chat; first_name is required by PTB's User and is blanked.
_KEPT = ("id", "is_bot", "type")
# Message content Lotsen never reads and that may identify someone.
_DROPPED = frozenset({"contact", "location", "venue", "author_signature", "forward_signature",
                      "forward_sender_name"})
# Updates that carry a chat or a user Lotsen answers to.
_CARRIERS = ("message", "edited_message", "callback_query")


@dataclass(frozen=True, slots=True)
class Incoming:
    """An update as the inbox stores it; `problem` says why it is quarantined (None: accepted)."""

    update_id: int | None
    payload: str
    problem: str | None = None


# The keys whose strings are what a person wrote: names are removed there too.
_WRITTEN = frozenset({"text", "caption"})
Redact = Callable[[str], str]


def numbers_only(text: str) -> str:
    """Removes numbers, e-mail and street addresses and plates, not names (for strings no person wrote)."""
    return redact(text, names_too=False).text


def redact_value(value: Any, written: Redact = numbers_only, key: str = "") -> Any:
    """Returns the JSON value with identifiers removed: `written` for text and captions, numbers elsewhere."""
    if isinstance(value, str):
        return written(value) if key in _WRITTEN else numbers_only(value)
    if isinstance(value, list):
        return [redact_value(v, written, key) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, written, k) for k, v in value.items()}
    return value


def redact_update(update: dict[str, Any], written: Redact = numbers_only) -> str:
    """The update as JSON text, with every string value redacted (ids and dates are numbers and stay)."""
    return json.dumps(redact_value(update, written), ensure_ascii=False, separators=(",", ":"))


def _person(value: Any, keep_first_name: bool) -> Any:
    if not isinstance(value, dict):
        return value
    kept = {k: value[k] for k in _KEPT if k in value}
    if "first_name" in value:
        kept["first_name"] = value["first_name"] if keep_first_name else ""
    return kept


def reduce_value(value: Any, key: str = "") -> Any:
    """Returns the JSON value with people and chats reduced to their ids (see the module docstring)."""
    if isinstance(value, list):
        return [reduce_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    reduced = {}
    for k, v in value.items():
        if k in _DROPPED:
            continue
        if k in _PEOPLE:
            reduced[k] = _person(v, keep_first_name=key == "callback_query" and k == "from")
        else:
            reduced[k] = reduce_value(v, k)
    return reduced


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ids_problem(data: dict[str, Any]) -> str | None:
    """Why the chat or user ids cannot be used (None when they can)."""
    for key in _CARRIERS:
        item = data.get(key)
        if item is None:
            continue
        if not isinstance(item, dict):
            return f"{key} är inget objekt"
        for holder in (item, item.get("message")):
            if not isinstance(holder, dict):
                continue
            for who in ("chat", "from"):
                if who in holder and not (isinstance(holder[who], dict) and _is_id(holder[who].get("id"))):
                    return f"{key}: {who}.id är inget heltal"
    return None


def accept(raw: Any, written: Redact = numbers_only) -> Incoming:
    """Redacts (`written` for what a person wrote), reduces and validates one raw update (module docstring)."""
    if not isinstance(raw, dict) or not _is_id(raw.get("update_id")):
        return Incoming(None, "", "update_id saknas eller är inget heltal")
    update_id = raw["update_id"]
    data = reduce_value(redact_value(raw, written))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: ASCII escapes keep the row storable for inspection.
        return Incoming(update_id, json.dumps(data, separators=(",", ":")), "ogiltig Unicode-text")
    problem = _ids_problem(data)
    if problem is None:
        try:
            Update.de_json(data, None)
        except Exception as exc:  # noqa: BLE001 - whatever PTB cannot parse is quarantined
            problem = f"kan inte tolkas ({type(exc).__name__})"
    return Incoming(update_id, payload, problem)
