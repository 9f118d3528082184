"""`lotsen run`: start the bot by durable long polling, or by webhook with `--webhook URL`.

Registered on the `lotsen` command by `bot.cli` through `add_arguments`; the
subcommand's function is `run_command(args, settings) -> int`.
SIGINT and SIGTERM stop it cleanly: polling stops, the update in hand is
finished, the database is closed. Exit codes: 0 after a clean stop, 2 for a
missing or unusable configuration (a database that cannot be written
included), 1 when Telegram rejects the token.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.config import DEVELOPMENT_SECRET, Settings
from bot.privacy import configure_logging

# python-telegram-bot, tornado and matplotlib are imported when the bot starts,
# so `lotsen ask`, `route` and `eval` start in a fraction of the time.

_LOGGER = logging.getLogger("bot.telegram")

DEFAULT_POLL_TIMEOUT = 30
INSECURE_SECRET = (
    "LOTSEN_SECRET saknas: sätt en egen lång slumpmässig hemlighet (t.ex. `openssl rand -hex 32`); "
    "den skyddar pseudonymerna i databasen. / LOTSEN_SECRET is not set: set a long random secret."
)


def add_arguments(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `run [--webhook URL --port N --listen ADDR]` on the `lotsen` command."""
    p = subparsers.add_parser(
        "run",
        help="starta Telegram-boten (long polling, eller webhook med --webhook)",
        description="Startar Lotsen i Telegram. Kräver LOTSEN_TELEGRAM_TOKEN och LOTSEN_SECRET.",
    )
    p.add_argument("--webhook", metavar="URL", help="ta emot uppdateringar via webhook på denna https-adress")
    p.add_argument("--port", type=int, default=8443, help="port för webhook-servern (standard 8443)")
    p.add_argument("--listen", default="0.0.0.0", metavar="ADDR", help="adress att lyssna på (standard 0.0.0.0)")
    p.add_argument("--poll-timeout", type=float, default=DEFAULT_POLL_TIMEOUT, metavar="SEK",
                   help=f"long polling-tid i sekunder (standard {DEFAULT_POLL_TIMEOUT})")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the bot until SIGINT/SIGTERM; returns the exit code."""
    from telegram.error import InvalidToken, NetworkError

    from bot.storage import StorageError
    from bot.telegram.app import MISSING_TOKEN

    if not settings.telegram_token:
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    if settings.secret == DEVELOPMENT_SECRET:
        print(INSECURE_SECRET, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
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


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram.app import build_application, running
    from bot.telegram.polling import serve_polling
    from bot.telegram.webhook import serve_webhook, webhook_secret

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    application = build_application(settings)
    async with running(application, stop):
        if args.webhook:
            _LOGGER.info("Lotsen är igång (webhook, port %d)", args.port)
            await serve_webhook(application, stop, url=args.webhook, secret=webhook_secret(settings),
                                listen=args.listen, port=args.port)
        else:
            await application.bot.delete_webhook(drop_pending_updates=False)
            _LOGGER.info("Lotsen är igång som @%s (long polling)", application.bot.username)
            await serve_polling(application, stop, poll_timeout=args.poll_timeout)
    _LOGGER.info("Lotsen har stannat")
    return 0
