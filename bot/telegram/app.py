"""The Telegram application: `build_application(settings)` registers every handler, in order.

`lotsen kor` and the tests build the very same application. It has no PTB
Updater: updates come from Lotsen's durable inbox (`bot.telegram.polling`,
`bot.telegram.webhook`), which calls ``application.process_update``. Use
`running(application)` to start and stop it around a poller or webhook server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge.base import KnowledgeBase
from bot.telegram import (
    admin,
    consultation,
    consultation_list,
    curate,
    delivery,
    digest,
    materials,
    mydata,
    onboarding,
    questions,
    report,
    updatelog,
)
from bot.telegram.access import private_only
from bot.telegram.dialogues import ends, tracked
from bot.telegram.errors import on_error
from bot.telegram.health import ApiClock, TrackedRequest, install_clock
from bot.telegram.sending import RetryingRateLimiter
from bot.telegram.services import Services, install, services_of, uninstall

_LOGGER = logging.getLogger(__name__)

# The Swedish command menu (setMyCommands at start).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Kom igång: vad Lotsen är, din roll och kommun"),
    ("hjalp", "Så ställer du en fråga, med exempel"),
    ("kommun", "Byt kommun, t.ex. /kommun Flen"),
    ("konsultation", "Begär konsultation med BUP:s kontaktperson"),
    ("mina", "Dina konsultationer och deras status"),
    ("hjulet", "Barnets bästa-hjulet som bild"),
    ("material", "Metodmaterial"),
    ("om", "Vad Lotsen sparar och hur länge"),
    ("mina_uppgifter", "Vad Lotsen har sparat om dig"),
    ("glom_mig", "Låt Lotsen glömma dig"),
    ("avbryt", "Avbryt en pågående dialog"),
)

MISSING_TOKEN = (
    "LOTSEN_TELEGRAM_TOKEN saknas. Skapa en bot hos @BotFather i Telegram (/newbot), kopiera token "
    "och sätt den: export LOTSEN_TELEGRAM_TOKEN=123456:ABC…\n"
    "LOTSEN_TELEGRAM_TOKEN is not set. Create a bot with @BotFather in Telegram (/newbot), copy the "
    "token and set it: export LOTSEN_TELEGRAM_TOKEN=123456:ABC…"
)

PRIVATE = filters.ChatType.PRIVATE
PURGE_INTERVAL = timedelta(hours=6)


def file_url_for(bot_api_url: str) -> str:
    """The file download URL that belongs to a Bot API URL (…/bot → …/file/bot)."""
    if bot_api_url.endswith("/bot"):
        return bot_api_url[: -len("/bot")] + "/file/bot"
    return bot_api_url


def _consultation_dialogue() -> ConversationHandler:
    """The /konsultation dialogue; its states read as the specification of the conversation."""
    text = filters.TEXT & ~filters.COMMAND
    step = functools.partial(tracked, "konsultation")  # each step noted, so a restart is noticed
    with warnings.catch_warnings():
        # per_message=False is right here (one dialogue per user and chat, not per message);
        # PTB warns about it for CallbackQueryHandler states.
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
        return ConversationHandler(
            name="konsultation",
            entry_points=[
                CommandHandler("konsultation", step(consultation.on_start)),
                CallbackQueryHandler(step(consultation.on_start), pattern=r"^kons:"),
            ],
            states={
                consultation.ABOUT: [MessageHandler(text, step(consultation.on_about))],
                consultation.URGENCY: [
                    CallbackQueryHandler(step(consultation.on_urgency), pattern=r"^urg:"),
                    MessageHandler(text, step(consultation.on_press_a_button)),
                ],
                consultation.REACH: [MessageHandler(text, step(consultation.on_reach))],
                consultation.CONFIRM: [
                    CallbackQueryHandler(step(consultation.on_confirm), pattern=r"^kons_ok$"),
                    CallbackQueryHandler(step(consultation.on_cancel), pattern=r"^kons_nej$"),
                    MessageHandler(text, step(consultation.on_press_a_button)),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, ends(consultation.on_timeout))],
            },
            fallbacks=[CommandHandler("avbryt", step(consultation.on_cancel))],
            conversation_timeout=consultation.CONVERSATION_TIMEOUT,
            allow_reentry=True,
        )


def build_application(settings: Settings, *, kb: KnowledgeBase | None = None) -> Application:
    """Builds Lotsen's Telegram application; the database and knowledge base open in post_init."""
    if not settings.telegram_token:
        raise ConfigError(MISSING_TOKEN)

    async def post_init(application: Application) -> None:
        install(application, await Services.open(settings, kb))
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])

    async def post_shutdown(application: Application) -> None:
        svc = uninstall(application)
        if svc is not None:
            await svc.close()

    clock = ApiClock()  # when the Bot API last answered, for health checks
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(settings.bot_api_url)
        .base_file_url(file_url_for(settings.bot_api_url))
        .request(TrackedRequest(clock, connection_pool_size=256))
        .get_updates_request(TrackedRequest(clock, connection_pool_size=1))
        .updater(None)  # updates come from the durable inbox, see bot.telegram.polling
        .rate_limiter(RetryingRateLimiter())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )

    install_clock(application, clock)
    updatelog.register(application)  # one log line per handled update (groups -1 and 1)
    _add_handlers(application)
    application.add_error_handler(on_error)
    digest.schedule_digest(application)
    _schedule_housekeeping(application)
    return application


def _add_handlers(application: Application) -> None:
    """Every handler, in the order Telegram updates are matched against them."""
    # Consultation dialogue first: while it runs, its states take the user's text.
    application.add_handler(_consultation_dialogue())

    # Onboarding and help.
    application.add_handler(CommandHandler("start", onboarding.on_start))
    application.add_handler(CallbackQueryHandler(onboarding.on_role, pattern=r"^role:"))
    application.add_handler(CallbackQueryHandler(onboarding.on_municipality, pattern=r"^kom:"))
    application.add_handler(CommandHandler("kommun", onboarding.on_kommun))
    application.add_handler(CommandHandler(["hjalp", "help"], onboarding.on_help))
    application.add_handler(CommandHandler("om", onboarding.on_about))
    application.add_handler(CommandHandler("id", onboarding.on_id))

    # Material.
    application.add_handler(CommandHandler("hjulet", materials.on_wheel))
    application.add_handler(CommandHandler("material", materials.on_materials))

    # Consultations outside the dialogue: status, "Hanterad", stale dialogue buttons, /avbryt.
    application.add_handler(CommandHandler("mina", private_only(consultation_list.on_mine)))
    application.add_handler(CommandHandler("mina_uppgifter", private_only(mydata.on_my_data)))
    application.add_handler(CommandHandler("glom_mig", private_only(mydata.on_forget)))
    application.add_handler(CallbackQueryHandler(mydata.on_forget_button, pattern=r"^glom:(ja|nej):\d+$"))
    application.add_handler(CallbackQueryHandler(delivery.on_handled, pattern=r"^done:"))
    application.add_handler(CommandHandler("konsultationer", consultation_list.on_open_list))
    application.add_handler(CallbackQueryHandler(consultation_list.on_pass_on, pattern=r"^vid:K-\d+$"))
    application.add_handler(CallbackQueryHandler(consultation_list.on_pass_to, pattern=r"^vidto:K-\d+:"))
    application.add_handler(CallbackQueryHandler(ends(consultation.on_stale_button), pattern=r"^(urg:|kons_ok$|kons_nej$)"))
    application.add_handler(CommandHandler("avbryt", ends(consultation.on_nothing_to_cancel)))

    # Process leaders.
    application.add_handler(CommandHandler("statistik", admin.on_stats))
    application.add_handler(CommandHandler("obesvarade", curate.on_obesvarade))
    application.add_handler(CommandHandler("ladda_om", admin.on_reload))
    application.add_handler(CommandHandler("export", admin.on_export))
    _add_curation_handlers(application)

    # Questions: buttons under answers, then free text (in groups only when addressed to Lotsen).
    application.add_handler(CallbackQueryHandler(questions.on_feedback, pattern=r"^fb:\d+:-?1$"))
    application.add_handler(CallbackQueryHandler(questions.on_clarify, pattern=r"^(rt|rk):\d+:"))
    application.add_handler(CallbackQueryHandler(questions.on_more, pattern=r"^mer:"))
    application.add_handler(CallbackQueryHandler(questions.on_unknown_button))  # forged or outdated data
    application.add_handler(MessageHandler(filters.COMMAND & PRIVATE, questions.on_unknown_command))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & questions.ADDRESSED_TO_BOT, questions.on_text)
    )
    application.add_handler(MessageHandler(PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL, questions.on_not_text))


def _schedule_housekeeping(application: Application) -> None:
    """The repeating jobs: purge, and the consultations' resumed forwards and reminders."""
    # Housekeeping: texts older than LOTSEN_RETENTION_DAYS are purged a minute after start, then every 6 hours.
    if application.job_queue is not None:
        application.job_queue.run_repeating(_purge, interval=PURGE_INTERVAL, first=60, name="lotsen-purge")
        # Consultations: retry forwards left unsent by a restart; remind of requests open two working days.
        application.job_queue.run_once(delivery.resume_forwards, when=5, name="lotsen-resume-forwards")
        application.job_queue.run_repeating(delivery.remind_open, interval=delivery.REMINDER_INTERVAL,
                                            first=delivery.REMINDER_FIRST, name="lotsen-reminders")


def _add_curation_handlers(application: Application) -> None:
    """The process leaders' tools: curation loop, contact checks, digest buttons and the report."""
    application.add_handler(CommandHandler("angra", curate.on_angra))
    application.add_handler(CommandHandler("kontakter", digest.on_kontakter))
    application.add_handler(CommandHandler("rapport", report.on_rapport))
    application.add_handler(CallbackQueryHandler(curate.on_curate, pattern=r"^cu:\d+:(t:[a-z0-9-]+|o|i)$"))
    application.add_handler(CallbackQueryHandler(curate.on_undo_button, pattern=r"^cu-undo:\d+$"))
    application.add_handler(CallbackQueryHandler(curate.on_show_list, pattern=r"^cu-list$"))
    application.add_handler(CallbackQueryHandler(digest.on_contact_check, pattern=r"^ck:(ok|ny):[a-z0-9-]+$"))


async def _purge(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removes question texts and personal links older than the retention period."""
    svc = services_of(context.application)
    report = await svc.storage.retention.purge(datetime.now(UTC), svc.settings.retention_days)
    _LOGGER.info(
        "Rensning: %d frågetexter, %d konsultationer, %d användare, %d inkorgsrader",
        report.questions_cleared, report.consultations_cleared, report.users_deleted, report.inbox_pruned,
    )


async def _initialize(application: Application, stop: asyncio.Event | None) -> None:
    """initialize() (getMe), retried with backoff on network errors, as bootstrap_retries=-1 would."""
    delay = 1.0
    while True:
        try:
            await application.initialize()
            return
        except InvalidToken:
            raise
        except NetworkError as exc:
            if stop is not None and stop.is_set():
                raise
            _LOGGER.warning("Telegram svarar inte vid start (%s); nytt försök om %.0f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 30.0)


@asynccontextmanager
async def running(application: Application, stop: asyncio.Event | None = None) -> AsyncIterator[Services]:
    """Initializes and starts the application (post_init included) and undoes it all on exit."""
    await _initialize(application, stop)
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            yield services_of(application)
        finally:
            if application.running:
                await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
