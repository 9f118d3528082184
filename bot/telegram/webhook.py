"""Webhook mode: Telegram POSTs each update; Lotsen answers 200 only after the update is COMMITted.

PTB's own webhook handler answers 200 as soon as the update sits in an
in-memory queue, so a crash loses it (Telegram will not send it again). This
small tornado server (tornado already comes with python-telegram-bot[webhooks],
so no new dependency) does it durably:

- a request without the right ``X-Telegram-Bot-Api-Secret-Token`` gets 403;
- a body that is not an update gets 400 (Telegram would retry a 5xx forever);
- the update is redacted, reduced and validated (`bot.telegram.intake.accept`),
  stored in the inbox (or quarantined, when it cannot be parsed) and
  COMMITted; only then 200. A database error answers 503, so Telegram delivers
  it again.

The same `InboxWorker` as in polling mode then handles the inbox in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sqlite3
from typing import Any
from urllib.parse import urlsplit

from telegram.ext import Application
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApplication
from tornado.web import RequestHandler

from bot.config import Settings
from bot.errors import LotsenError
from bot.telegram.health import HealthHandler
from bot.telegram.inbox import InboxWorker
from bot.telegram.intake import accept
from bot.telegram.polling import ALLOWED_UPDATES
from bot.telegram.services import services_of

_LOGGER = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"  # GET: bot.telegram.health.HealthHandler


def webhook_secret(settings: Settings) -> str:
    """LOTSEN_WEBHOOK_SECRET, or one derived from LOTSEN_SECRET (Telegram allows A-Z a-z 0-9 _ -)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return hmac.new(settings.secret.encode(), b"lotsen-webhook", hashlib.sha256).hexdigest()[:48]


class _Receiver:
    """Checks, redacts and stores one POSTed update; tells the worker."""

    def __init__(self, application: Application, worker: InboxWorker, secret: str) -> None:
        self.application = application
        self.worker = worker
        self.secret = secret
        self._lock = asyncio.Lock()

    async def receive(self, header: str | None, body: bytes) -> int:
        """Returns the HTTP status to answer with."""
        if header is None or not hmac.compare_digest(header.encode(), self.secret.encode()):
            return 403
        try:
            raw = json.loads(body)
            incoming = accept(raw, services_of(self.application).redactor_for(raw))
        except ValueError:
            return 400
        if incoming.update_id is None:
            _LOGGER.error("Webhook: update utan giltigt update_id (%s)", incoming.problem)
            return 400
        update_id = incoming.update_id
        if incoming.problem is None:
            stored, quarantined = [(update_id, incoming.payload)], []
        else:  # stored for inspection and confirmed, so Telegram does not send it again and again
            _LOGGER.error("Webhook: update %s sattes i karantän: %s", update_id, incoming.problem)
            stored, quarantined = [], [(update_id, incoming.payload, incoming.problem)]
        storage = services_of(self.application).storage
        if self.worker.paused:
            return 503  # the database file is gone: Telegram keeps the update and tries again
        try:
            async with self._lock:
                # Keep the polling offset past every stored update, for a later switch back to polling.
                offset = max(await storage.inbox.offset(), update_id + 1)
                await storage.inbox.store(stored, offset, quarantined)
        except (sqlite3.Error, LotsenError, OSError) as exc:
            _LOGGER.error("Webhook: update kunde inte sparas (%s); Telegram försöker igen", type(exc).__name__)
            await self.worker.database_failed(exc)
            return 503
        await self.worker.database_ok()
        self.worker.wake()
        return 200


class _Handler(RequestHandler):
    def initialize(self, receiver: _Receiver) -> None:
        self.receiver = receiver

    async def post(self) -> None:
        status = await self.receiver.receive(self.request.headers.get(SECRET_HEADER), self.request.body)
        self.set_status(status)
        self.finish()

    def log_exception(self, *args: object) -> None:  # no request bodies in logs
        _LOGGER.error("Webhook: oväntat fel i förfrågan")


class WebhookServer:
    """The HTTP endpoint; `port` is known after `start()` (use port 0 in tests)."""

    def __init__(self, application: Application, worker: InboxWorker, *, url: str, secret: str,
                 listen: str = "127.0.0.1", port: int = 8443) -> None:
        self.url = url
        self.path = urlsplit(url).path or "/"
        self.listen = listen
        self.port = port
        self.secret = secret
        receiver = _Receiver(application, worker, secret)
        routes: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [
            (HEALTH_PATH, HealthHandler, {"bot_application": application}),
            (self.path, _Handler, {"receiver": receiver}),
        ]
        app = TornadoApplication(routes, log_function=lambda _h: None)
        self._server = HTTPServer(app, xheaders=True)

    def start(self) -> None:
        sockets = bind_sockets(self.port, address=self.listen)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()


async def serve_webhook(
    application: Application,
    stop: asyncio.Event,
    *,
    url: str,
    secret: str,
    listen: str = "127.0.0.1",
    port: int = 8443,
    started: asyncio.Future[WebhookServer] | None = None,
) -> None:
    """Listens for updates, registers the webhook with Telegram, and handles the inbox until `stop`."""
    worker = InboxWorker(application)
    server = WebhookServer(application, worker, url=url, secret=secret, listen=listen, port=port)
    server.start()
    try:
        await application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
        )
        _LOGGER.info("Webhook registrerad; lyssnar på %s:%d%s", listen, server.port, server.path)
        if started is not None and not started.done():
            started.set_result(server)
        await worker.run(stop)
    finally:
        await server.stop()
