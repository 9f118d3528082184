"""Health of the running bot: the Bot API clock, the heartbeat task and webhook mode's `GET /healthz`.

- `ApiClock` remembers when a Bot API call last succeeded; `TrackedRequest` (the
  HTTP layer `build_application` gives PTB) sets it on every 2xx answer.
- `heartbeat_loop` writes `bot.ops.health.heartbeat(...)` into the database every
  `HEARTBEAT_INTERVAL` seconds, and a final "stopped" one on a clean stop;
  `lotsen halsa` reads it from another process.
- `live_report` is what `/healthz` answers: 200 with JSON when the database
  takes a write and a knowledge base is loaded, 503 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from typing import Any

from telegram.ext import Application
from telegram.request import HTTPXRequest
from tornado.web import RequestHandler

from bot.errors import LotsenError
from bot.ops.health import HEARTBEAT_INTERVAL, heartbeat
from bot.storage.backup import HEARTBEAT_KEY
from bot.telegram.services import services_of

_LOGGER = logging.getLogger(__name__)
_CLOCK_KEY = "lotsen.api_clock"


class ApiClock:
    """When the Bot API last answered a call with success (Unix seconds), and when the bot started."""

    def __init__(self) -> None:
        self.started = time.time()
        self.last_ok: float | None = None

    def mark(self) -> None:
        self.last_ok = time.time()

    def age(self) -> float | None:
        return None if self.last_ok is None else round(time.time() - self.last_ok, 1)


class TrackedRequest(HTTPXRequest):
    """PTB's own HTTP request, which also tells the ApiClock about every successful call."""

    def __init__(self, clock: ApiClock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, body = await super().do_request(*args, **kwargs)
        if 200 <= code < 300:
            self.clock.mark()
        return code, body


def install_clock(application: Application, clock: ApiClock) -> None:
    application.bot_data[_CLOCK_KEY] = clock


def api_clock(application: Application) -> ApiClock:
    """The application's ApiClock (a fresh one for an application built without it)."""
    clock = application.bot_data.get(_CLOCK_KEY)
    if not isinstance(clock, ApiClock):
        clock = ApiClock()
        install_clock(application, clock)
    return clock


async def write_heartbeat(application: Application, mode: str, *, stopped: bool = False) -> None:
    """Stores one heartbeat record for `lotsen halsa`."""
    svc = services_of(application)
    clock = api_clock(application)
    beat = heartbeat(mode=mode, started=clock.started, kb_hash=svc.kb_hash, api_ok_at=clock.last_ok,
                     stopped=stopped)
    await svc.storage.db.set_state(HEARTBEAT_KEY, json.dumps(beat))


async def heartbeat_loop(application: Application, stop: asyncio.Event, mode: str,
                         interval: float = HEARTBEAT_INTERVAL) -> None:
    """Writes a heartbeat now and every `interval` seconds until `stop`; then a final "stopped" one."""
    while not stop.is_set():
        try:
            await write_heartbeat(application, mode)
        except (sqlite3.Error, LotsenError) as exc:
            _LOGGER.warning("Livstecknet kunde inte skrivas: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    with contextlib.suppress(sqlite3.Error, LotsenError, RuntimeError, ValueError):
        await write_heartbeat(application, mode, stopped=True)


async def live_report(application: Application) -> tuple[bool, dict[str, Any]]:
    """The running bot's health: (healthy, JSON-ready details)."""
    svc = services_of(application)
    writable = await svc.storage.db.probe_writable()
    try:
        open_inbox: int | None = await svc.storage.inbox.open_count()
    except (sqlite3.Error, LotsenError):
        open_inbox = None
    clock = api_clock(application)
    report: dict[str, Any] = {
        "db_writable": writable,
        "knowledge_loaded": svc.kb is not None,
        "knowledge_hash": svc.kb_hash,
        "knowledge_topics": len(svc.kb.topics),
        "bot_api_last_ok_age_s": clock.age(),
        "open_inbox": open_inbox,
        "uptime_s": round(time.time() - clock.started, 1),
    }
    healthy = bool(writable and report["knowledge_loaded"])
    report["healthy"] = healthy
    return healthy, report


class HealthHandler(RequestHandler):
    """`GET /healthz`: 200 and the report when healthy, 503 and the report when not."""

    def initialize(self, bot_application: Application) -> None:
        self.bot_application = bot_application

    async def get(self) -> None:
        try:
            healthy, report = await live_report(self.bot_application)
        except Exception as exc:  # noqa: BLE001 - a health check answers, whatever broke
            healthy, report = False, {"healthy": False, "error": type(exc).__name__}
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report))
