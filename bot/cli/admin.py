"""The process leaders' commands: `lotsen statistik`, `unanswered`, `konsultationer`, `export` and `purge`.

`bot.cli.main` registers them with `add_arguments(subparsers)`; each subcommand's
`func(args, settings)` opens the database, prints Swedish text and returns the
exit code. The Telegram commands /statistik, /obesvarade and /export show the
same texts (bot.ops.curation).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.cli.parser import add_command
from bot.config import Settings
from bot.errors import KnowledgeError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_knowledge
from bot.ops import curation
from bot.storage.consultations import STATUSES
from bot.storage.database import StorageError
from bot.storage.store import Storage

if TYPE_CHECKING:
    from bot.knowledge.base import KnowledgeBase

T = TypeVar("T")


def _date(text: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ange datum som ÅÅÅÅ-MM-DD, t.ex. 2026-01-31 (fick {text!r})"
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"ange ett heltal som är minst 1 (fick {text!r})")
    return value


def add_arguments(subparsers: argparse._SubParsersAction) -> None:
    """Registers stats, unanswered, konsultationer, export and purge on the `lotsen` command's subparsers."""
    stats = add_command(subparsers, "statistik", help="visa statistik över frågor och konsultationer")
    stats.add_argument(
        "--since", type=_date, metavar="ÅÅÅÅ-MM-DD", help="räkna bara frågor från och med detta datum"
    )
    stats.add_argument("--chart", type=Path, metavar="FIL.png", help="spara också ett diagram som PNG")
    stats.set_defaults(func=run_stats)

    unanswered = add_command(subparsers, "obesvarade", help="lista frågor som Lotsen inte kunde besvara säkert")
    unanswered.add_argument("--limit", type=_positive, default=20, metavar="N", help="hur många frågor (standard 20)")
    unanswered.set_defaults(func=run_unanswered)

    open_list = add_command(subparsers, "konsultationer", help="lista öppna konsultationsförfrågningar, äldst först")
    open_list.add_argument("--status", choices=STATUSES, help="bara denna status (t.ex. ny: ännu inte framskickad)")
    open_list.set_defaults(func=run_consultations)

    export = add_command(subparsers, "exportera", help="exportera frågeloggen eller konsultationerna (utan personkopplingar)"
    )
    export.add_argument("--format", choices=("csv", "jsonl"), help="filformat (krävs utom med --kontakter)")
    export.add_argument(
        "--kontakter", action="store_true",
        help="skriv contacts.yaml med dagarna som kontakter bekräftats i Telegram som verified:",
    )
    export.add_argument(
        "--table",
        choices=("questions", "consultations"),
        default="questions",
        help="vilken tabell (standard questions)",
    )
    export.add_argument(
        "--output", type=Path, metavar="FIL", help="skriv till fil i stället för till skärmen"
    )
    export.set_defaults(func=run_export)

    purge = add_command(subparsers, "rensa", help="rensa texter och personkopplingar äldre än lagringstiden")
    purge.add_argument(
        "--days", type=_positive, metavar="N", help="lagringstid i dagar (standard LOTSEN_RETENTION_DAYS, 365)"
    )
    purge.set_defaults(func=run_purge)

    from bot.cli import contacts as cli_contacts

    cli_contacts.add_arguments(subparsers)


def stale_contact_warnings(kb: KnowledgeBase, settings: Settings) -> list[str]:
    """`lotsen kontrollera`'s warnings: contacts not verified within LOTSEN_VERIFY_DAYS (they do not fail)."""
    from bot.cli.contacts import stale_warnings

    return stale_warnings(kb, settings)


def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T | None:
    """Runs work against the database; prints a Swedish error and returns None if there is none."""
    path = Path(settings.db_path)
    if not path.exists():
        print(
            f"lotsen: databasen {path} finns inte — ange rätt fil med LOTSEN_DB eller starta boten först",
            file=sys.stderr,
        )
        return None

    async def main() -> T:
        async with await Storage.open(path) as storage:
            return await work(storage)

    try:
        return asyncio.run(main())
    except StorageError as exc:
        print(f"lotsen: {exc}", file=sys.stderr)
        return None


def _knowledge(settings: Settings) -> KnowledgeBase | None:
    """The knowledge base for names in the output; None (ids are shown) when it does not load."""
    try:
        return load_knowledge(settings.knowledge_dir, settings.contacts_file)
    except KnowledgeError:
        return None


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the statistics table (and writes the chart with --chart)."""
    stats = _with_storage(settings, lambda storage: storage.statistics.stats(since=args.since))
    if stats is None:
        return 1
    names = curation.display_names(_knowledge(settings))
    print(curation.format_stats(stats, names))
    if args.chart:
        args.chart.write_bytes(curation.stats_chart_png(stats, names))
        print(f"\nDiagrammet är sparat i {args.chart}")
    return 0


def run_unanswered(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the latest declined and low-confidence questions."""
    rows = _with_storage(settings, lambda storage: storage.questions.unanswered(limit=args.limit))
    if rows is None:
        return 1
    print(curation.format_unanswered(rows))
    return 0


def run_consultations(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the open consultations (or those with --status), oldest first, with who received them."""
    rows = _with_storage(settings, lambda storage: storage.consultations.open(args.status))
    if rows is None:
        return 1
    kb = _knowledge(settings)
    names = curation.display_names(kb)
    print(curation.format_consultations(rows, names, lambda route: _recipient(kb, route)))
    return 0


def _recipient(kb: KnowledgeBase | None, route: str) -> str:
    if route == "curator":
        return "processledarnas chatt"
    contact = kb.contact_by_id(route) if kb else None
    return contact.name if contact else route


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """Writes a table as CSV or JSON Lines to the screen or a file."""
    if args.kontakter:
        from bot.cli.contacts import export_contacts

        return export_contacts(args, settings)
    if args.format is None:
        print("lotsen: ange --format csv eller --format jsonl (eller --kontakter)", file=sys.stderr)
        return 1
    rows = _with_storage(settings, lambda storage: storage.statistics.export_rows(args.table))
    if rows is None:
        return 1
    text = curation.export_csv(rows) if args.format == "csv" else curation.export_jsonl(rows)
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="")  # the CSV has its own CRLF
        print(f"Exporterade {len(rows)} rader från {args.table} till {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Removes old texts and personal links now, the same as the bot's daily purge."""
    days = args.days or settings.retention_days
    report = _with_storage(settings, lambda storage: storage.retention.purge(datetime.now(UTC), days))
    if report is None:
        return 1
    print(f"Rensat allt äldre än {days} dagar (före {report.cutoff:%Y-%m-%d}):")
    print(f"  frågor utan text och användarnyckel nu: {report.questions_cleared}")
    print(f"  konsultationer rensade:                 {report.consultations_cleared}")
    print(f"  chatt-id borttagna från hanterade:      {report.chat_ids_cleared}")
    print(f"  inaktiva användare borttagna:           {report.users_deleted}")
    print(f"  gamla poster i inkorgen borttagna:      {report.inbox_pruned}")
    return 0
