"""What every handler needs: settings, storage, the knowledge base and its router.

Handlers reach them through `services(context)`, a typed accessor, never
through bare ``bot_data["..."]`` strings. The knowledge base can be reloaded
while the bot runs (`/ladda_om`): a reload that fails validation leaves the
last good knowledge base (and its router) in place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram.ext import Application, ContextTypes

from bot.config import Settings
from bot.core.answer import Answer
from bot.core.router import Router
from bot.core.vectors import ship_if_writable
from bot.errors import KnowledgeError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_knowledge
from bot.ops import snapshot
from bot.ops.privacy import pseudonym
from bot.storage.inbox import MAX_UPDATE_ATTEMPTS
from bot.storage.store import Storage
from bot.text.identifiers import redact

_LOGGER = logging.getLogger(__name__)
_KEY = "lotsen.services"


@dataclass
class Services:
    """The bot's long-lived parts, opened in post_init and closed in post_shutdown."""

    settings: Settings
    storage: Storage
    kb: KnowledgeBase
    router: Router
    # Update ids whose handling raised, with the error; the inbox worker retries them later.
    failed_updates: dict[int, BaseException] = field(default_factory=dict)
    # Which attempt the inbox worker is making at each update (1-based), counted here too, so the
    # count goes on when the database cannot be written; after max_attempts the user is told.
    attempts: dict[int, int] = field(default_factory=dict)
    max_attempts: int = MAX_UPDATE_ATTEMPTS
    # Hash of the knowledge base in use (bot.ops.snapshot.digest), for health checks; None when not known.
    kb_hash: str | None = None
    # Updates whose answer reached the user but is not yet logged: a retry logs without resending.
    answered: set[int] = field(default_factory=set)
    # Updates whose user has had the one "something went wrong" note.
    notified: set[int] = field(default_factory=set)
    # Updates on their last attempt: if it fails, they are given up (the note says "try again").
    last_attempts: set[int] = field(default_factory=set)
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Serialises changes to the learned overlay (read, change, write, reload).
    learned_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Telegram users asked right now how a consultation's recipient can reach them: their next
    # message may keep a phone number (in memory only; after a restart the dialogue starts over).
    phone_allowed: set[int] = field(default_factory=set)

    @classmethod
    async def open(cls, settings: Settings, kb: KnowledgeBase | None = None) -> Services:
        """Loads the knowledge base (unless given) and opens the database."""
        if kb is None:
            kb = load_knowledge(settings.knowledge_dir, settings.contacts_file, settings.learned_path)
        router = await asyncio.to_thread(Router.for_settings, kb, settings)
        storage = await Storage.open(settings.db_path)
        changed = await storage.subjects.redact_stored(lambda text: router.redact(text).text)
        if changed is not None:  # once per version of the redaction; counts only, never text
            _LOGGER.info("Sparade texter rensade från namn och nummer: %s",
                         ", ".join(f"{table} {n}" for table, n in changed.items()))
        return cls(settings=settings, storage=storage, kb=kb, router=router)

    async def close(self) -> None:
        await self.storage.close()

    async def reload(self) -> KnowledgeError | None:
        """Validates and loads the knowledge base from disk; on error keeps the current one and returns the error."""
        async with self._reload_lock:
            try:
                kb, kb_hash, files = await asyncio.to_thread(snapshot.read_and_load, self.settings)
                router = await asyncio.to_thread(Router.for_settings, kb, self.settings)
                await asyncio.to_thread(ship_if_writable, kb, router.semantic.known if router.semantic else None)
            except KnowledgeError as exc:
                _LOGGER.warning("Kunskapsbasen laddades inte om: %d fel, den förra används", len(exc.problems))
                return exc
            # Swap both at once: a handler never sees a router built from another knowledge base.
            self.kb, self.router, self.kb_hash = kb, router, kb_hash
            await self.storage.snapshots.save(kb_hash, files)
            _LOGGER.info("Kunskapsbasen omladdad: %d ämnen", len(kb.topics))
            return None

    async def route(self, text: str, municipality: str | None, *, topic: str | None = None) -> Answer:
        """The router's answer, computed in a worker thread.

        The sentence encoder takes tens of milliseconds for a message (hundreds for a
        long one); meanwhile the event loop goes on polling, sending and logging for
        other chats. The router keeps no state between messages (its caches are
        thread-safe, its holiday calendar locked) and the encoder gives each request
        engine processes of its own, so answers in parallel threads do not mix.
        """
        router = self.router  # the one in use when the question came, even if /ladda_om swaps it
        return await asyncio.to_thread(router.route, text, municipality, topic=topic)

    def redact_written(self, text: str) -> str:
        """What a person wrote, with every direct identifier removed (the current knowledge base's `Keep`)."""
        return self.router.redact(text).text

    def redactor_for(self, raw: object) -> Callable[[str], str]:
        """How to redact what the sender of this raw update wrote: everything, except the phone number
        of a user who is answering how a consultation's recipient can reach them (`phone_allowed`)."""
        sender = _sender_id(raw)
        if sender is not None and sender in self.phone_allowed:
            return lambda text: redact(text, self.router.keep, keep_phones=True).text
        return self.redact_written

    def user_key(self, telegram_user_id: int) -> str:
        """The user's pseudonym (HMAC of the Telegram id under LOTSEN_SECRET)."""
        return pseudonym(self.settings.secret, telegram_user_id)

    def is_admin(self, telegram_user_id: int | None) -> bool:
        return telegram_user_id is not None and telegram_user_id in self.settings.admins

    def forget_update(self, update_id: int) -> None:
        """Drops what memory holds about an update once it is done or given up."""
        self.failed_updates.pop(update_id, None)
        self.attempts.pop(update_id, None)
        self.answered.discard(update_id)
        self.notified.discard(update_id)
        self.last_attempts.discard(update_id)


def install(application: Application, value: Services) -> None:
    application.bot_data[_KEY] = value


def uninstall(application: Application) -> Services | None:
    return application.bot_data.pop(_KEY, None)


def services_of(application: Application) -> Services:
    """The Services of an application whose post_init has run."""
    value = application.bot_data.get(_KEY)
    if not isinstance(value, Services):
        raise RuntimeError("Lotsen's services are not open: post_init has not run")
    return value


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The Services of the application handling this update."""
    return services_of(context.application)


def _sender_id(raw: object) -> int | None:
    """The user id of whoever sent a raw message update, if it is one."""
    if not isinstance(raw, dict):
        return None
    message = raw.get("message")
    sender = message.get("from") if isinstance(message, dict) else None
    user_id = sender.get("id") if isinstance(sender, dict) else None
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None
