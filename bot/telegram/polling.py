"""Durable long polling: no update is lost when Lotsen is killed, and none is handled twice.

python-telegram-bot's Updater confirms a batch to Telegram (by calling
getUpdates with a higher offset) as soon as the batch sits in an in-memory
queue, before any handler has run; a SIGKILL then loses the whole batch. So
Lotsen builds its Application with ``updater(None)`` and polls itself:

1. ``getUpdates(offset=<stored offset>, timeout=…)`` — raw JSON, nothing parsed yet;
2. every string in each update has its personnummer removed (`redact_update`),
   so no number ever reaches the disk or a log line;
3. ``storage.store_updates(batch, next_offset)``: the inbox rows and the new
   offset in ONE transaction, COMMITted;
4. only then the next getUpdates, which is what confirms the batch to Telegram.

Killed before 3: nothing is stored and Telegram still has the batch (it is
fetched again, with the old stored offset). Killed after 3: the batch is in the
inbox and is handled on restart. An update Telegram delivers twice is one inbox
row (the update_id is the primary key).

`InboxWorker` handles the pending rows strictly in update_id order with
``application.process_update`` and then marks each one done. A kill between a
handler's effects and "done" replays the update on restart; the handlers make
that harmless (see `bot.telegram.questions` and `bot.telegram.consultation`).

Failures of getUpdates follow PTB's own polling policy (telegram.ext._utils.networkloop):
RetryAfter → sleep retry_after + 0.5 s; TimedOut → poll again at once;
InvalidToken → stop with an error (fatal); anything else → back off 1 s,
×1.5 per failure, at most 30 s. A failed COMMIT is handled like a network
error: the batch is not confirmed and comes back on the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import warnings
from typing import Any

from telegram import Update
from telegram.error import EndPointNotFound, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot import personnummer
from bot.errors import LotsenError
from bot.telegram.sending import retry_after_seconds
from bot.telegram.services import services_of

_LOGGER = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
FIRST_BACKOFF = 1.0
BACKOFF_FACTOR = 1.5
MAX_BACKOFF = 30.0


def redact_value(value: Any) -> Any:
    """Returns the JSON value with personnummer removed from every string in it."""
    if isinstance(value, str):
        return personnummer.redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def redact_update(update: dict[str, Any]) -> str:
    """The update as JSON text, with every string value redacted (ids and dates are numbers and stay)."""
    return json.dumps(redact_value(update), ensure_ascii=False, separators=(",", ":"))


LANES = 8  # chats handled side by side


def _chat_of(payload: str) -> int | None:
    """The chat an update belongs to (None when it cannot be told: handled on its own lane)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    for key in ("message", "edited_message", "callback_query"):
        item = data.get(key)
        if isinstance(item, dict):
            chat = (item.get("message") or item).get("chat") or {}
            if "id" in chat:
                return int(chat["id"])
            sender = item.get("from") or {}
            if "id" in sender:
                return int(sender["id"])
    return None


class InboxWorker:
    """Handles the inbox's pending updates in order; `wake()` after storing new ones."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self._wake = asyncio.Event()
        self.handled = 0

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Handles every pending update; returns how many were handled.

        Updates from one chat are handled strictly in order (a conversation
        depends on it); different chats are handled side by side, at most
        `LANES` at a time, so one user's slow reply does not hold up the others.
        """
        storage = services_of(self.application).storage
        count = 0
        while True:
            rows = await storage.pending_updates(100)
            if not rows:
                return count
            by_chat: dict[int | None, list[tuple[int, str]]] = {}
            for update_id, payload in rows:
                by_chat.setdefault(_chat_of(payload), []).append((update_id, payload))
            lanes = asyncio.Semaphore(LANES)
            await asyncio.gather(*(self._handle_in_order(updates, lanes) for updates in by_chat.values()))
            count += len(rows)

    async def _handle_in_order(self, updates: list[tuple[int, str]], lanes: asyncio.Semaphore) -> None:
        async with lanes:
            for update_id, payload in updates:
                await self._handle(update_id, payload)

    async def _handle(self, update_id: int, payload: str) -> None:
        svc = services_of(self.application)
        svc.attempts[update_id] = svc.attempts.get(update_id, 0) + 1
        svc.failed_updates.discard(update_id)
        try:
            update = Update.de_json(json.loads(payload), self.application.bot)
        except Exception as exc:  # noqa: BLE001 - a malformed update must not stop the worker
            _LOGGER.error("Update %s kunde inte läsas: %s", update_id, type(exc).__name__)
            await svc.storage.mark_update_failed(update_id)
            return
        await self.application.process_update(update)
        if update_id in svc.failed_updates:
            await svc.storage.mark_update_failed(update_id)
            if svc.attempts[update_id] >= svc.max_attempts:
                svc.attempts.pop(update_id, None)
        else:
            await svc.storage.mark_update_done(update_id)
            svc.attempts.pop(update_id, None)
        self.handled += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Drains the inbox whenever woken, until `stop` is set (finishing the update in hand)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain()
            except (sqlite3.Error, LotsenError) as exc:
                _LOGGER.error("Inkorgen kunde inte läsas: %s; försöker igen", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


class DurablePoller:
    """The getUpdates loop: fetch, redact, COMMIT to the inbox, and only then fetch again (= ack)."""

    def __init__(self, application: Application, worker: InboxWorker, *, poll_timeout: float = 30,
                 limit: int = 100) -> None:
        self.application = application
        self.worker = worker
        self.poll_timeout = poll_timeout
        self.limit = limit

    async def fetch(self, offset: int) -> list[dict[str, Any]]:
        """One getUpdates call, returning the raw update dicts (never parsed before they are stored)."""
        api_kwargs: dict[str, Any] = {
            "timeout": self.poll_timeout,
            "limit": self.limit,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if offset:
            api_kwargs["offset"] = offset
        try:
            with warnings.catch_warnings():
                # do_api_request warns that Bot.get_updates exists; we want the raw JSON on purpose.
                warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*getUpdates.*")
                result = await self.application.bot.do_api_request(
                    "getUpdates", api_kwargs=api_kwargs, read_timeout=self.poll_timeout + 10
                )
        except EndPointNotFound as exc:
            # do_api_request reports a 401/404 as "endpoint not found"; getUpdates exists, so it is the token.
            raise InvalidToken(str(exc)) from exc
        return list(result or [])

    async def run(self, stop: asyncio.Event) -> None:
        """Polls until `stop` is set; raises InvalidToken when Telegram rejects the token."""
        storage = services_of(self.application).storage
        offset = await storage.get_offset()
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            try:
                updates = await self.fetch(offset)
            except RetryAfter as exc:
                await _sleep(retry_after_seconds(exc) + 0.5, stop)
                continue
            except TimedOut:
                continue
            except InvalidToken:
                raise
            except TelegramError as exc:
                _LOGGER.warning("getUpdates misslyckades (%s); nytt försök om %.1f s", type(exc).__name__, backoff)
                await _sleep(backoff, stop)
                backoff = min(backoff * BACKOFF_FACTOR, MAX_BACKOFF)
                continue
            if not updates:
                backoff = FIRST_BACKOFF
                continue
            batch = [(int(u["update_id"]), redact_update(u)) for u in updates]
            next_offset = max(update_id for update_id, _ in batch) + 1
            try:
                await storage.store_updates(batch, next_offset)
            except (sqlite3.Error, LotsenError) as exc:
                # Not stored, so not confirmed: the next poll (old offset) fetches the batch again.
                _LOGGER.error("Inkorgen kunde inte spara %d updates (%s)", len(batch), type(exc).__name__)
                await _sleep(backoff, stop)
                backoff = min(backoff * BACKOFF_FACTOR, MAX_BACKOFF)
                continue
            backoff = FIRST_BACKOFF
            offset = next_offset
            self.worker.wake()


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    """Sleeps, but wakes early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def serve_polling(application: Application, stop: asyncio.Event, *, poll_timeout: float = 30) -> None:
    """Runs the poller and the inbox worker of a started application until `stop` is set.

    On stop the poller is cancelled at once (an unconfirmed batch simply comes
    back next time) and the worker finishes the update it is handling.
    """
    worker = InboxWorker(application)
    poller = DurablePoller(application, worker, poll_timeout=poll_timeout)
    worker_task = asyncio.create_task(worker.run(stop), name="lotsen-inbox")
    poller_task = asyncio.create_task(poller.run(stop), name="lotsen-poller")
    stop_task = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({poller_task, worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stop_task and task.exception() is not None:
                stop.set()
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        poller_task.cancel()
        stop_task.cancel()
        await asyncio.gather(poller_task, worker_task, stop_task, return_exceptions=True)
