"""The inbox worker: handles stored updates in order per chat, fairly between chats, and retries failures.

Polling (`bot.telegram.polling`) and the webhook (`bot.telegram.webhook`) store
every update in the inbox; `InboxWorker` handles the pending rows with
``application.process_update``. The rules it keeps:

- **No send without a place to record it.** An attempt begins with a write
  (`storage.inbox.begin`); when the database cannot be written, nothing is
  handled. A failed write later in the attempt fails the whole attempt.
- **Bounded, honest retries.** A failed update stays pending with its next
  attempt due after a backoff (1 s, 2 s, 4 s … at most 10 min) stored in its
  row, so the schedule survives a restart. When even that cannot be written,
  the worker counts and defers in memory. A passing fault (network, 5xx, a
  locked or full database) is retried for `storage.RETRY_FOR` (24 h); a
  permanent one (a bug, a 400) three times. Then the update is given up: its
  payload is emptied and the admins are told. A user who blocked Lotsen is not
  retried at all.
- **At most one answer and one "something went wrong" per question.** A
  question whose answer was sent but not logged is logged on the next attempt
  without being sent again (`Services.answered`); the error handler sends its
  note once (`Services.notified`).
- **Fairness.** A chat's lane takes at most `PER_ROUND` of its updates before
  other chats get their turn, and up to `LANES` chats are handled side by side,
  a free lane taking at once the waiting chat whose last turn began longest
  ago, so neither one user's burst nor one slow answer holds up the others;
  and a user who sends more than `FLOOD_LIMIT` updates a minute has the rest
  skipped (parked as failed, "flood guard"), with one friendly note.
- **Stop.** When `stop` is set, the updates in hand are finished and the rest
  stay pending for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.errors import LotsenError
from bot.storage.database import unwritable_hint
from bot.storage.inbox import QUARANTINED, RETRY_FOR, InboxItem
from bot.telegram.services import Services, services_of

_LOGGER = logging.getLogger(__name__)

LANES = 8  # chats handled side by side
PER_ROUND = 5  # updates of one chat per turn in a lane
MAX_SERVED = 10_000  # chats whose last turn is remembered
FIRST_RETRY = 1.0  # seconds before the second attempt; doubled each time
MAX_RETRY = 600.0
IDLE_WAIT = 1.0  # how often due retries are looked for when nothing new arrives
FLOOD_LIMIT = 20  # new updates per user and FLOOD_WINDOW before the rest are skipped
FLOOD_WINDOW = 60.0
FLOODED = "flood guard"  # inbox.problem of a skipped update
ALERT_INTERVAL = 900.0  # seconds between two "the database cannot be written" alerts
DATABASE_ERRORS = (sqlite3.Error, LotsenError, OSError)

GAVE_UP = (
    "Lotsen gav upp ett meddelande (update {update_id}) efter {attempts} försök: {problem}. "
    "Användaren har om möjligt fått beskedet att något gick fel. Se loggen för detaljer."
)
DATABASE_DOWN = (
    "Lotsen kan inte skriva i databasen och svarar inte på frågor förrän det går igen "
    "(inget besvaras utan att loggas). Fel: {problem}. Åtgärd: {hint}"
)
FILE_GONE = "databasfilen är borttagen eller utbytt – återställ den från en säkerhetskopia och starta om Lotsen"
FLOOD_NOTE = (
    "Du har skickat väldigt många meddelanden på kort tid, så jag hoppar över en del av dem. "
    "Vänta en minut och skriv sedan det viktigaste igen. Vid akut fara: ring 112."
)
DATABASE_BACK = "Lotsen kan skriva i databasen igen och svarar på de frågor som väntat."


def retry_delay(attempt: int) -> float:
    """Seconds to wait after the given (1-based) failed attempt."""
    return min(FIRST_RETRY * 2 ** (attempt - 1), MAX_RETRY)


def is_transient(error: BaseException) -> bool:
    """True for faults that pass by themselves: network, 5xx, 429, timeouts, the database."""
    if isinstance(error, BadRequest):
        return False
    return isinstance(error, (*DATABASE_ERRORS, RetryAfter, TimedOut, NetworkError))


def gives_up(error: BaseException, attempt: int, first_failure: datetime | None, max_attempts: int) -> bool:
    """Whether a failed update is given up now rather than retried."""
    if isinstance(error, Forbidden):
        return True  # the user blocked Lotsen: nobody to answer
    if not is_transient(error):
        return attempt >= max_attempts
    return first_failure is not None and datetime.now(UTC) - first_failure >= RETRY_FOR


def _user_of(payload: str) -> int | None:
    """The user who sent an update (None when it cannot be told)."""
    try:
        data = json.loads(payload)
        for key in ("message", "edited_message", "callback_query"):
            item = data.get(key)
            if isinstance(item, dict) and isinstance(item.get("from"), dict):
                return int(item["from"]["id"])
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


class FloodGuard:
    """Counts each user's new updates in a sliding window; past the limit they are skipped, with one note."""

    def __init__(self, limit: int = FLOOD_LIMIT, window: float = FLOOD_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[int, deque[float]] = {}
        self._noted: dict[int, float] = {}

    def admit(self, user: int | None) -> bool:
        """True when the user is within the limit (and counts this update)."""
        if user is None:
            return True
        now = time.monotonic()
        seen = self._seen.setdefault(user, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True

    def note_due(self, user: int | None) -> bool:
        """True once per window for a user who is being skipped: the moment to tell them."""
        now = time.monotonic()
        if user is None or now - self._noted.get(user, -self.window - 1) <= self.window:
            return False
        self._noted[user] = now
        return True


def _chat_of(payload: str) -> int | None:
    """The chat an update belongs to (None when it cannot be told: handled on its own lane)."""
    try:
        data = json.loads(payload)
        for key in ("message", "edited_message", "callback_query"):
            item = data.get(key)
            if isinstance(item, dict):
                chat = (item.get("message") or item).get("chat") or item.get("from") or {}
                return int(chat["id"])
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


class InboxWorker:
    """Handles the inbox's pending updates; `wake()` after storing new ones."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.handled = 0
        # update_id -> monotonic time before which it is not tried (its retry could not be stored).
        self._deferred: dict[int, float] = {}
        # Handled, but "done" could not be written: only that is retried.
        self._unsaved_done: set[int] = set()
        self._database_down: str | None = None  # the error type while writes fail
        self._alerted_at: float | None = None  # when the admins were last told it failed
        self._alert_open = False  # told it failed, not yet that it works again
        self._file_gone = False  # the database file was deleted or replaced under us
        self._flood = FloodGuard()
        self._served: dict[int | None, float] = {}  # chat -> when its last lane started (fair turns)

    def wake(self) -> None:
        self._wake.set()

    @property
    def paused(self) -> bool:
        """True while the database file is gone: nothing is taken in or answered (it could not be logged)."""
        return self._file_gone

    async def _check_file(self) -> None:
        storage = services_of(self.application).storage
        if self._file_gone or not storage.db.file_gone():
            return
        self._file_gone = True
        _LOGGER.critical("Databasfilen %s är borttagen eller utbytt; Lotsen tar inte emot något", storage.path)
        await self.database_failed(FileNotFoundError(FILE_GONE))

    async def drain(self) -> int:
        """Handles every due update, chats side by side; returns how many were attempted.

        Up to LANES chats are handled at once, each its next PER_ROUND updates in order.
        A lane that finishes, or a new update stored meanwhile (`wake`), starts the next
        waiting chat at once: one slow answer holds up only its own chat.
        """
        storage = services_of(self.application).storage
        count = 0
        lanes: dict[asyncio.Task[int], int | None] = {}  # a chat's updates in hand -> the chat
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            while not self._stop.is_set():
                self._wake.clear()
                if len(lanes) < LANES:  # else nothing could start: wait for a lane
                    self._start_lanes(lanes, await storage.inbox.due(500))
                if not lanes:
                    return count
                if woken.done():
                    woken = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait([*lanes, woken], return_when=asyncio.FIRST_COMPLETED)
                for lane in done - {woken}:
                    del lanes[lane]
                    count += lane.result()
            return count
        finally:
            woken.cancel()
            if lanes:  # stop: the updates in hand are finished, the rest stay pending
                await asyncio.gather(*lanes, return_exceptions=True)

    def _start_lanes(self, lanes: dict[asyncio.Task[int], int | None], items: list[InboxItem]) -> None:
        """Starts a lane for each waiting chat that has none while lanes are free, longest unserved first."""
        now = time.monotonic()
        waiting: dict[int | None, list[InboxItem]] = {}
        for item in items:
            chat = _chat_of(item.payload)
            if chat not in lanes.values() and self._deferred.get(item.update_id, 0) <= now:
                waiting.setdefault(chat, []).append(item)
        if len(self._served) > MAX_SERVED:
            self._served.clear()  # only the order of turns is lost, for a moment
        turns = sorted(waiting, key=lambda chat: self._served.get(chat, 0.0))
        for chat in turns[: LANES - len(lanes)]:
            self._served[chat] = now
            lanes[asyncio.ensure_future(self._handle_in_order(waiting[chat][:PER_ROUND]))] = chat

    async def _handle_in_order(self, updates: list[InboxItem]) -> int:
        for item in updates:
            if self._stop.is_set():
                break  # the rest stay pending for the next start
            await self._handle(item)
        return len(updates)

    async def _handle(self, item: InboxItem) -> None:
        svc = services_of(self.application)
        update_id = item.update_id
        if update_id in self._unsaved_done:
            await self._settle(svc, item, 0, None)
            return
        first_time = item.attempts == 0 and update_id not in svc.attempts
        if first_time and not self._flood.admit(_user_of(item.payload)):
            await self._skip_flooded(svc, item)
            return
        attempt = max(item.attempts, svc.attempts.get(update_id, 0)) + 1
        svc.attempts[update_id] = attempt
        try:
            began = await svc.storage.inbox.begin(update_id)
        except DATABASE_ERRORS as exc:
            await self._database_failed(svc, update_id, attempt, exc)
            return
        await self.database_ok()
        if not began:
            svc.forget_update(update_id)
            return
        try:
            update = Update.de_json(json.loads(item.payload), self.application.bot)
        except Exception as exc:  # noqa: BLE001 - a row stored before intake checked it
            _LOGGER.error("Update %s kunde inte läsas: %s; sätts i karantän", update_id, type(exc).__name__)
            await self._give_up(svc, update_id, attempt, f"{QUARANTINED}: {type(exc).__name__}", report=False)
            return
        svc.failed_updates.pop(update_id, None)
        if item.first_failure is not None and datetime.now(UTC) - item.first_failure >= RETRY_FOR:
            svc.last_attempts.add(update_id)
        try:
            await self.application.process_update(update)
        except Exception as exc:  # noqa: BLE001 - process_update hands handler errors to on_error
            svc.failed_updates[update_id] = exc
        await self._settle(svc, item, attempt, svc.failed_updates.pop(update_id, None))
        self.handled += 1

    async def _settle(self, svc: Services, item: InboxItem, attempt: int, error: BaseException | None) -> None:
        """Records how the attempt ended: done, a retry later, or given up."""
        update_id = item.update_id
        if error is not None and gives_up(error, attempt, item.first_failure, svc.max_attempts):
            await self._give_up(svc, update_id, attempt, type(error).__name__,
                                report=not isinstance(error, Forbidden))
            return
        try:
            if error is None:
                await svc.storage.inbox.done(update_id)
                self._unsaved_done.discard(update_id)
                self._deferred.pop(update_id, None)
                svc.forget_update(update_id)
            else:
                delay = retry_delay(attempt)
                await svc.storage.inbox.retry_later(update_id, datetime.now(UTC) + timedelta(seconds=delay),
                                                     type(error).__name__)
                self._deferred[update_id] = time.monotonic() + delay  # the stored time is to the second
        except DATABASE_ERRORS as exc:
            if error is None:
                self._unsaved_done.add(update_id)
            await self._database_failed(svc, update_id, attempt, exc)
            return
        await self.database_ok()

    async def _skip_flooded(self, svc: Services, item: InboxItem) -> None:
        """Parks an update of a user past the flood limit unhandled, telling them once per window."""
        try:
            await svc.storage.inbox.give_up(item.update_id, FLOODED)
        except DATABASE_ERRORS as exc:
            await self._database_failed(svc, item.update_id, 1, exc)
            return
        chat = _chat_of(item.payload)
        if chat is not None and self._flood.note_due(_user_of(item.payload)):
            _LOGGER.warning("Flodskydd: en användare skickar för många meddelanden; de överskjutande hoppas över")
            try:
                await self.application.bot.send_message(chat, FLOOD_NOTE)
            except TelegramError as exc:
                _LOGGER.warning("Kunde inte skicka flodskyddets besked: %s", type(exc).__name__)

    async def _give_up(self, svc: Services, update_id: int, attempt: int, problem: str, *, report: bool) -> None:
        try:
            await svc.storage.inbox.give_up(update_id, problem)
        except DATABASE_ERRORS as exc:
            await self._database_failed(svc, update_id, attempt, exc)
            return
        svc.forget_update(update_id)
        self._deferred.pop(update_id, None)
        _LOGGER.error("Update %s gavs upp efter %d försök: %s", update_id, attempt, problem)
        if report:
            await self._tell_admins(svc, GAVE_UP.format(update_id=update_id, attempts=attempt, problem=problem))

    async def _database_failed(self, svc: Services, update_id: int, attempt: int, exc: BaseException) -> None:
        """Defers the update in memory and, once per outage, logs and alerts the admins."""
        self._deferred[update_id] = time.monotonic() + retry_delay(attempt)
        await self.database_failed(exc)

    async def database_failed(self, exc: BaseException) -> None:
        """Notes that a write failed (here or when storing updates); logs and alerts the admins once per outage."""
        svc = services_of(self.application)
        now = time.monotonic()
        if self._database_down is not None:
            return
        self._database_down = type(exc).__name__
        _LOGGER.error("Databasen går inte att skriva (%s); frågor väntar tills den går igen", self._database_down)
        if self._alerted_at is not None and now - self._alerted_at < ALERT_INTERVAL:
            return  # a database that comes and goes: one alert, not one per flap
        self._alerted_at, self._alert_open = now, True
        hint = unwritable_hint(svc.settings.db_path, exc)
        await self._tell_admins(svc, DATABASE_DOWN.format(problem=self._database_down, hint=hint))

    async def database_ok(self) -> None:
        """Notes that a write succeeded; tells the admins when they were told it failed."""
        if self._database_down is None:
            return
        self._database_down = None
        _LOGGER.warning("Databasen går att skriva igen")
        if self._alert_open:
            self._alert_open = False
            await self._tell_admins(services_of(self.application), DATABASE_BACK)

    async def _tell_admins(self, svc: Services, text: str) -> None:
        for admin in sorted(svc.settings.admins):
            try:
                await self.application.bot.send_message(admin, text)
            except TelegramError as exc:
                _LOGGER.warning("Kunde inte meddela en admin: %s", type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        """Drains the inbox whenever woken or a retry is due, until `stop` is set (finishing the updates in hand)."""
        self._stop = stop
        with contextlib.suppress(*DATABASE_ERRORS):
            if quarantined := await services_of(self.application).storage.inbox.quarantined_count():
                _LOGGER.warning("Inkorgen har %d uppdateringar i karantän (kunde inte läsas)", quarantined)
        backoff = FIRST_RETRY
        while not stop.is_set():
            self._wake.clear()
            try:
                await self._check_file()
                if not self._file_gone:
                    await self.drain()
                backoff = FIRST_RETRY
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any fault
                _LOGGER.error("Inkorgen kunde inte läsas (%s); nytt försök om %.0f s", type(exc).__name__, backoff,
                              exc_info=None if isinstance(exc, DATABASE_ERRORS) else exc)
                await _sleep(backoff, stop)
                backoff = min(backoff * 2, MAX_RETRY)
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=IDLE_WAIT, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    """Sleeps, but wakes early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
