"""`lotsen kontakter`, `lotsen exportera --kontakter` and `lotsen rapport`: contacts that stay true, and the report.

Registered by `bot.cli.admin.add_arguments`. Ages of contacts count from the
later of `verified:` in contacts.yaml and the last "Stämmer" tap in Telegram
(stored in the database, when there is one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.cli.parser import add_command
from bot.config import Settings
from bot.knowledge.base import ContactAge, KnowledgeBase
from bot.knowledge.loader import load_knowledge
from bot.storage.store import Storage

LOCAL = ZoneInfo("Europe/Stockholm")


def today() -> date:
    """Today in Sweden (contacts are verified on Swedish days)."""
    return datetime.now(LOCAL).date()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ange datum som ÅÅÅÅ-MM-DD, t.ex. 2026-09-01 (fick {text!r})") from None


def add_arguments(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `kontakter` and `rapport`."""
    p = add_command(subparsers, "kontakter", help="lista kontakterna och hur länge sedan de kontrollerades")
    p.add_argument("--inaktuella", action="store_true", help="bara kontakter som inte kontrollerats inom LOTSEN_VERIFY_DAYS dagar")
    p.set_defaults(func=run_contacts)

    p = add_command(subparsers, "rapport", help="skriv en rapport till styrgruppen som en HTML-fil med diagram")
    p.add_argument("--fran", type=_day, required=True, metavar="ÅÅÅÅ-MM-DD", help="första dagen i perioden")
    p.add_argument("--till", type=_day, required=True, metavar="ÅÅÅÅ-MM-DD", help="sista dagen i perioden (tas med)")
    p.add_argument("--ut", type=Path, default=Path("rapport.html"), metavar="FIL.html", help="filen att skriva (standard rapport.html)")
    p.set_defaults(func=run_report)


def _kb(settings: Settings) -> KnowledgeBase:
    return load_knowledge(settings.knowledge_dir, settings.contacts_file, settings.learned_path)


def _confirmations(settings: Settings) -> dict[str, date]:
    """Days contacts were confirmed in Telegram; nothing when there is no database yet."""
    if not Path(settings.db_path).exists():
        return {}

    async def read() -> dict[str, date]:
        async with await Storage.open(settings.db_path) as storage:
            return await storage.curation.contact_confirmations()

    return asyncio.run(read())


def _owner_name(kb: KnowledgeBase, key: str) -> str:
    owner = kb.contacts.owners.get(key)
    return owner.name if owner else (key or "ingen ägare")


def format_age(item: ContactAge) -> str:
    if item.verified is None:
        return "aldrig kontrollerad"
    return f"{item.verified.isoformat()} ({item.age} dagar sedan)"


def stale_warnings(kb: KnowledgeBase, settings: Settings) -> list[str]:
    """One warning per contact not verified within LOTSEN_VERIFY_DAYS, as `fil:rad: varning: … — …`."""
    now = today()
    out = []
    for item in kb.contact_ages(now):
        if item.stale(settings.verify_days):
            c = item.contact
            out.append(
                f"{settings.contacts_file.name}:{item.line}: varning: {c.name} ({item.where}) kontrollerades senast "
                f"{format_age(item)} — ring och kontrollera, skriv sedan verified: {now.isoformat()} "
                f"(ansvarig: {_owner_name(kb, c.owner)})"
            )
    if out:
        out.append(f"{len(out)} kontakter är inte kontrollerade på {settings.verify_days} dagar (LOTSEN_VERIFY_DAYS).")
    return out


def run_contacts(args: argparse.Namespace, settings: Settings) -> int:
    """Lists the contacts with the age of their last verification, oldest first."""
    kb = _kb(settings)
    ages = kb.contact_ages(today(), _confirmations(settings))
    if args.inaktuella:
        ages = [a for a in ages if a.stale(settings.verify_days)]
    if not ages:
        print(f"Alla kontakter är kontrollerade inom {settings.verify_days} dagar.")
        return 0
    ages.sort(key=lambda a: (a.verified or date.min, a.contact.id))
    for item in ages:
        mark = "!" if item.stale(settings.verify_days) else " "
        print(f"{mark} {format_age(item):<28} {_owner_name(kb, item.contact.owner):<16} {item.where:<12} {item.contact.id:<36} {item.contact.name}")
    stale = sum(a.stale(settings.verify_days) for a in ages)
    print(f"\n{len(ages)} kontakter, {stale} inte kontrollerade på {settings.verify_days} dagar (markerade med !).")
    return 0


def export_contacts(args: argparse.Namespace, settings: Settings) -> int:
    """Writes contacts.yaml with the Telegram confirmations as `verified:` (to the screen or --output)."""
    from bot.knowledge.contacts_export import with_confirmations

    text = settings.contacts_file.read_text(encoding="utf-8")
    new, changed = with_confirmations(text, _confirmations(settings))
    if args.output:
        args.output.write_text(new, encoding="utf-8")
    else:
        sys.stdout.write(new)
    print(f"{len(changed)} kontakter fick nytt verified: {', '.join(changed) or '–'}", file=sys.stderr)
    return 0


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """Writes the steering group's report for a period as one self-contained HTML file."""
    from bot.ops.report import build_report

    if args.till < args.fran:
        print("lotsen: --till ska vara samma dag som eller efter --fran", file=sys.stderr)
        return 1
    kb = _kb(settings)
    path = Path(settings.db_path)
    if not path.exists():
        print(f"lotsen: databasen {path} finns inte — ange rätt fil med LOTSEN_DB", file=sys.stderr)
        return 1
    start = datetime.combine(args.fran, time(), LOCAL)
    end = datetime.combine(args.till + timedelta(days=1), time(), LOCAL)

    async def make() -> str:
        async with await Storage.open(path) as storage:
            return await build_report(storage, kb, start, end, settings.verify_days)

    html = asyncio.run(make())
    args.ut.write_text(html, encoding="utf-8")
    print(f"Rapporten för {args.fran} – {args.till} är sparad i {args.ut}")
    return 0
