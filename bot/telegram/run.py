"""`lotsen kor`: start the bot by durable long polling, or by webhook with `--webhook URL`.

Registered on the `lotsen` command by `bot.cli.main` through `add_arguments`; the
subcommand's function is `run_command(args, settings) -> int`.
SIGINT and SIGTERM stop it cleanly: polling stops, the update in hand is
finished, the database is closed. Exit codes: 0 after a clean stop, 2 for a
missing or unusable configuration (a database that cannot be written, or a
broken knowledge base with no good snapshot to fall back on), 1 when Telegram
rejects the token or another Lotsen already runs on the database (bot.ops.instance).

Production parts around the bot: the instance lock, the knowledge base with
its snapshot fallback (bot.ops.snapshot), and the heartbeat task
(bot.telegram.health) that `lotsen halsa` reads.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from bot.config import DEVELOPMENT_SECRET, Settings
from bot.ops import instance
from bot.ops.privacy import configure_logging

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.ops.snapshot import Loaded

# python-telegram-bot, tornado and matplotlib are imported when the bot starts,
# so `lotsen fraga`, `route` and `eval` start in a fraction of the time.

_LOGGER = logging.getLogger("bot.telegram")

DEFAULT_POLL_TIMEOUT = 30
DEFAULT_LISTEN = "127.0.0.1"
MIN_SECRET_LENGTH = 32
SHORT_SECRET = (
    f"LOTSEN_SECRET är för kort: den ska vara minst {MIN_SECRET_LENGTH} tecken lång och slumpmässig "
    "(t.ex. `openssl rand -hex 32`). Byt den inte senare: pseudonymerna i databasen bygger på den."
)
INSECURE_SECRET = (
    "LOTSEN_SECRET saknas: sätt en egen lång slumpmässig hemlighet (t.ex. `openssl rand -hex 32`); "
    "den skyddar pseudonymerna i databasen. / LOTSEN_SECRET is not set: set a long random secret."
)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the bot until SIGINT/SIGTERM; returns the exit code."""
    from telegram.error import InvalidToken, NetworkError

    from bot.storage.database import StorageError
    from bot.telegram.app import MISSING_TOKEN

    if not settings.telegram_token:
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    if settings.secret == DEVELOPMENT_SECRET:
        print(INSECURE_SECRET, file=sys.stderr)
        return 2
    if len(settings.secret) < MIN_SECRET_LENGTH:
        print(SHORT_SECRET, file=sys.stderr)
        return 2
    problem = check_consultation_destinations(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    lock = instance.acquire(settings.db_path)  # AlreadyRunning: the CLI prints it and exits 1
    try:
        return asyncio.run(_serve(args, settings))
    except InvalidToken:
        print("Telegram godtar inte LOTSEN_TELEGRAM_TOKEN – kontrollera den hos @BotFather. "
              "/ Telegram rejected the token.", file=sys.stderr)
        return 1
    except StorageError as exc:  # the database cannot be opened or written: say what to fix
        print(f"Lotsen kan inte starta: {exc}. / The database cannot be written.", file=sys.stderr)
        return 2
    except NetworkError as exc:  # stopped while Telegram was still unreachable at start
        print(f"Lotsen nådde inte Telegram ({type(exc).__name__}) och stoppades. "
              "/ Could not reach Telegram.", file=sys.stderr)
        return 1
    finally:
        lock.release()


def check_consultation_destinations(settings: Settings) -> str | None:
    """Why the bot must not start because a consultation request could reach nobody, or None.

    Every municipality needs a destination: its BUP contact's telegram_chat_id, else
    LOTSEN_CURATOR_CHAT — unless the operator turned requests off (LOTSEN_KONSULTATION=av).
    A knowledge base that does not load is reported later, where the bot loads it.
    """
    from bot.errors import KnowledgeError
    from bot.knowledge.loader import load_knowledge
    from bot.telegram.delivery import destination_problem

    try:
        kb = load_knowledge(settings.knowledge_dir, settings.contacts_file)
    except KnowledgeError:
        return None
    return destination_problem(kb, settings)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops.snapshot import fallback_notice
    from bot.telegram.app import build_application, running
    from bot.telegram.health import heartbeat_loop

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loaded = await _load_knowledge(settings)
    application = build_application(settings, kb=loaded.kb)
    mode = "webhook" if args.webhook else "polling"
    async with running(application, stop) as services:
        services.kb_hash = loaded.kb_hash
        beats = asyncio.create_task(heartbeat_loop(application, stop, mode), name="lotsen-heartbeat")
        if loaded.problems is not None:
            await _tell_admins(application, fallback_notice(loaded))
        try:
            await _serve_updates(application, stop, args, settings)
        finally:
            stop.set()
            await beats
    _LOGGER.info("Lotsen har stannat")
    return 0


async def _load_knowledge(settings: Settings) -> Loaded:
    """The knowledge base on disk (snapshotted), or the last good snapshot when it is broken."""
    from bot.ops.snapshot import load_or_fallback
    from bot.storage.store import Storage

    async with await Storage.open(settings.db_path) as storage:
        return await load_or_fallback(settings, storage)


async def _tell_admins(application: Application, text: str) -> None:
    """Sends a plain-text notice to every LOTSEN_ADMINS user (their private chat has their id)."""
    from telegram.error import TelegramError

    from bot.telegram.services import services_of

    for admin_id in sorted(services_of(application).settings.admins):
        try:
            await application.bot.send_message(admin_id, text)
        except TelegramError as exc:
            _LOGGER.warning("Kunde inte meddela en administratör: %s", type(exc).__name__)


async def _serve_updates(application: Application, stop: asyncio.Event, args: argparse.Namespace,
                         settings: Settings) -> None:
    from bot.telegram.polling import serve_polling
    from bot.telegram.webhook import serve_webhook, webhook_secret

    if args.webhook:
        _LOGGER.info("Lotsen är igång (webhook, port %d)", args.port)
        await serve_webhook(application, stop, url=args.webhook, secret=webhook_secret(settings),
                            listen=args.listen, port=args.port)
    else:
        await application.bot.delete_webhook(drop_pending_updates=False)
        _LOGGER.info("Lotsen är igång som @%s (long polling)", application.bot.username)
        await serve_polling(application, stop, poll_timeout=args.poll_timeout)
