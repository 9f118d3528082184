"""The operator's commands: `lotsen initiera DIR`, `lotsen halsa` and `lotsen sakerhetskopiera DEST`.

`bot.cli.main` registers them with `add_arguments(subparsers)`; each `func(args,
settings)` prints Swedish text and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.parser import add_command
from bot.config import DEFAULT_CONTACTS, DEFAULT_KNOWLEDGE, Settings
from bot.errors import LotsenError

DEFAULT_KEEP = 7

CURATOR_README = """\
# Lotsens regiondata

Den här katalogen är regionens egen kopia av det Lotsen vet: ämnen, material,
kommuner och kontaktpersoner. Håll den i regionens egen versionshantering (git),
skild från Lotsens programkod, så krockar en uppdatering av Lotsen aldrig med
era ändringar.

- `knowledge/` – ämnen (`topics/<id>.yaml`), material, roller, kommuner,
  ordlista, brådskande signaler och Barnets bästa-hjulet.
- `contacts.yaml` – kontaktpersonerna. Byt ut de fiktiva exempelkontakterna mot
  regionens riktiga och sätt `fictitious: false`.

Så använder Lotsen katalogen:

    export LOTSEN_KNOWLEDGE={knowledge}
    export LOTSEN_CONTACTS={contacts}

Efter varje ändring:

1. `lotsen kontrollera` – visar varje fel som `fil:rad: vad — hur`. Rätta tills den
   säger att kunskapsbasen är giltig.
2. Skicka `/ladda_om` till boten i Telegram (eller starta om tjänsten). En
   kunskapsbas med fel tas aldrig i bruk: Lotsen fortsätter med den senast
   fungerande versionen och berättar för administratörerna vad som är fel.

Vägledning för processledarna finns i Lotsens `docs/kurera.md`.
"""


def add_arguments(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers init, health and backup on the `lotsen` command's subparsers."""
    p = add_command(subparsers, "initiera", help="skriv en redigerbar kopia av kunskapsbasen och contacts.yaml till en datakatalog"
    )
    p.add_argument("dir", metavar="KATALOG", type=Path, help="regionens datakatalog (skapas om den saknas)")
    p.set_defaults(func=run_init)

    p = add_command(subparsers, "halsa", help="kontrollera att boten lever: databas, kunskapsbas, senaste livstecken")
    p.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    p.add_argument("--max-alder", type=float, default=None, metavar="SEK",
                   help="hur gammalt botens senaste livstecken får vara (standard 90 s)")
    p.set_defaults(func=run_health)

    p = add_command(subparsers, "sakerhetskopiera", help="säkerhetskopiera databasen medan boten kör (SQLite:s backup-API)")
    p.add_argument("dest", metavar="KATALOG", type=Path, help="katalog för kopiorna (skapas om den saknas)")
    p.add_argument("--behall", type=int, default=DEFAULT_KEEP, metavar="N",
                   help=f"hur många kopior som sparas, de äldsta tas bort (standard {DEFAULT_KEEP})")
    p.set_defaults(func=run_backup)


def run_init(args: argparse.Namespace, settings: Settings) -> int:
    """Copies the embedded knowledge base, contacts and a curator README into DIR."""
    target = args.dir.absolute()
    knowledge, contacts = target / "knowledge", target / "contacts.yaml"
    existing = [p for p in (knowledge, contacts) if p.exists()]
    if existing:
        raise LotsenError(
            f"{existing[0]} finns redan — init skriver aldrig över regionens data; välj en ny katalog"
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DEFAULT_KNOWLEDGE, knowledge, ignore=shutil.ignore_patterns("__pycache__", "*~"))
    shutil.copy2(DEFAULT_CONTACTS, contacts)
    readme = target / "README.md"
    if not readme.exists():
        readme.write_text(CURATOR_README.format(knowledge=knowledge, contacts=contacts), encoding="utf-8")
    print(f"Regiondata skriven till {target}")
    print("Peka ut den för Lotsen:")
    print(f"  export LOTSEN_KNOWLEDGE={knowledge}")
    print(f"  export LOTSEN_CONTACTS={contacts}")
    print("Kontrollera sedan med `lotsen kontrollera`.")
    return 0


def run_health(args: argparse.Namespace, settings: Settings) -> int:
    """Checks the running bot's heartbeat and the database; exit 0 when healthy, 1 otherwise."""
    from bot.ops.health import HEARTBEAT_MAX_AGE, check_offline

    max_age = HEARTBEAT_MAX_AGE if args.max_alder is None else args.max_alder
    report = check_offline(settings.db_path, max_age=max_age)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in report["problems"] or ["Lotsen mår bra."]:
            print(line)
        if report.get("heartbeat_age_s") is not None:
            print(f"Senaste livstecken för {report['heartbeat_age_s']:.0f} s sedan "
                  f"(pid {report.get('pid')} på {report.get('host')}).")
    return 0 if report["healthy"] else 1


def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copies the live database with SQLite's online backup API and keeps the newest N copies."""
    from bot.storage.backup import backup_database

    if args.behall < 1:
        raise LotsenError("--behall ska vara minst 1")
    source = settings.db_path
    if not source.exists():
        raise LotsenError(f"databasen {source} finns inte — ange rätt fil med LOTSEN_DB")
    dest_dir = args.dest.absolute()
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = dest_dir / f"{source.stem}-{stamp}.sqlite3"
    rows = backup_database(source, target)
    print(f"Säkerhetskopia: {target} ({rows} frågor, integritetskontroll ok)")
    copies = sorted(dest_dir.glob(f"{source.stem}-*.sqlite3"))
    for old in copies[: max(0, len(copies) - args.behall)]:
        old.unlink()
        print(f"Tog bort äldre kopia: {old}", file=sys.stderr)
    return 0


def add_run(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `kor [--webhook URL --port N --listen ADDR]`: the Telegram bot (bot.telegram.run)."""
    from bot.telegram.run import DEFAULT_LISTEN, DEFAULT_POLL_TIMEOUT, run_command

    p = add_command(
        subparsers,
        "kor",
        help="starta Telegram-boten (long polling, eller webhook med --webhook)",
        description="Startar Lotsen i Telegram. Kräver LOTSEN_TELEGRAM_TOKEN och LOTSEN_SECRET.",
    )
    p.add_argument("--webhook", metavar="URL", help="ta emot uppdateringar via webhook på denna https-adress")
    p.add_argument("--port", type=int, default=8443, metavar="PORT", help="port för webhook-servern (standard 8443)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADRESS",
                   help=f"adress som webhook-servern lyssnar på (standard {DEFAULT_LISTEN}, bakom en omvänd proxy)")
    p.add_argument("--poll-timeout", type=float, default=DEFAULT_POLL_TIMEOUT, metavar="SEK",
                   help=f"long polling-tid i sekunder (standard {DEFAULT_POLL_TIMEOUT})")
    p.set_defaults(func=run_command)
