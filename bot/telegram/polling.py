"""Durable long polling: no update is lost when Lotsen is killed, and none is handled twice.

python-telegram-bot's Updater confirms a batch to Telegram (by calling
getUpdates with a higher offset) as soon as the batch sits in an in-memory
queue, before any handler has run; a SIGKILL then loses the whole batch. So
Lotsen builds its Application with ``updater(None)`` and polls itself:

1. ``getUpdates(offset=<stored offset>, timeout=…)`` — raw JSON, nothing parsed yet;
2. each update is redacted, reduced and validated (`bot.telegram.intake.accept`):
   no personnummer or name ever reaches the disk or a log line, and one that
   cannot be parsed is quarantined instead of poisoning the inbox;
3. ``storage.inbox.store(batch, next_offset, quarantined)``: the inbox rows
   and the new offset in ONE transaction, COMMITted;
4. only then the next getUpdates, which is what confirms the batch to Telegram.

Killed before 3: nothing is stored and Telegram still has the batch (it is
fetched again, with the old stored offset). Killed after 3: the batch is in the
inbox and is handled on restart. An update Telegram delivers twice is one inbox
row (the update_id is the primary key).

`bot.telegram.inbox.InboxWorker` handles the pending rows in update_id order
per chat with ``application.process_update`` and then marks each one done. A
kill between a handler's effects and "done" replays the update on restart; the
handlers make that harmless (see `bot.telegram.questions` and
`bot.telegram.consultation`).

Failures of getUpdates follow PTB's own polling policy (telegram.ext._utils.networkloop):
RetryAfter → sleep retry_after + 0.5 s; TimedOut → poll again at once;
InvalidToken → stop with an error (fatal); anything else → back off 1 s,
×1.5 per failure, at most 30 s. A failed COMMIT is handled like a network
error: the batch is not confirmed and comes back on the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import warnings
from collections.abc import Callable
from typing import Any

from telegram.error import EndPointNotFound, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.errors import LotsenError
from bot.telegram.inbox import InboxWorker
from bot.telegram.intake import Incoming, Redact, accept, numbers_only, redact_update
from bot.telegram.sending import retry_after_seconds
from bot.telegram.services import services_of

__all__ = ["ALLOWED_UPDATES", "DurablePoller", "InboxWorker", "redact_update", "serve_polling", "split_batch"]

_LOGGER = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
FIRST_BACKOFF = 1.0
BACKOFF_FACTOR = 1.5
MAX_BACKOFF = 30.0


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
        offset = await storage.inbox.offset()
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            if self.worker.paused:  # no database to store in: leave the updates with Telegram
                await _sleep(1.0, stop)
                continue
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
            batch, quarantined, next_offset = split_batch(updates, offset, services_of(self.application).redactor_for)
            if next_offset == offset and not batch and not quarantined:
                await _sleep(backoff, stop)  # only updates without an id: do not spin on them
                backoff = min(backoff * BACKOFF_FACTOR, MAX_BACKOFF)
                continue
            try:
                await storage.inbox.store(batch, next_offset, quarantined)
            except (sqlite3.Error, LotsenError, OSError) as exc:
                # Not stored, so not confirmed: the next poll (old offset) fetches the batch again.
                _LOGGER.error("Inkorgen kunde inte spara %d updates (%s)", len(batch), type(exc).__name__)
                await self.worker.database_failed(exc)
                await _sleep(backoff, stop)
                backoff = min(backoff * BACKOFF_FACTOR, MAX_BACKOFF)
                continue
            backoff = FIRST_BACKOFF
            offset = next_offset
            await self.worker.database_ok()
            self.worker.wake()


def split_batch(
    updates: list[Any], offset: int, written_for: Callable[[Any], Redact] = lambda raw: numbers_only
) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]], int]:
    """Checks each raw update: (stored, quarantined as (id, payload, reason), the next offset).

    `written_for(raw)` says how to redact what its sender wrote (`Services.redactor_for`).
    """
    batch: list[tuple[int, str]] = []
    quarantined: list[tuple[int, str, str]] = []
    for raw in updates:
        incoming: Incoming = accept(raw, written_for(raw))
        if incoming.update_id is None:
            _LOGGER.error("Update utan giltigt update_id hoppades över (%s)", incoming.problem)
        elif incoming.problem is not None:
            _LOGGER.error("Update %s sattes i karantän: %s", incoming.update_id, incoming.problem)
            quarantined.append((incoming.update_id, incoming.payload, incoming.problem))
        else:
            batch.append((incoming.update_id, incoming.payload))
    ids = [update_id for update_id, _ in batch] + [update_id for update_id, _, _ in quarantined]
    return batch, quarantined, max([offset - 1, *ids]) + 1


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
