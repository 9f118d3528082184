"""The `lotsen` command line: a thin layer over the router, the knowledge base and storage.

Every subcommand reads its settings from LOTSEN_* variables (bot.config) and
turns Lotsen's own errors into one Swedish line on stderr and exit code 1 (2
for a broken knowledge base), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot import __version__
from bot.cli.parser import SwedishArgumentParser, add_command
from bot.config import Settings
from bot.core.render import ROLE_CHOICES, render_text
from bot.core.router import Router
from bot.core.vectors import ship_if_writable
from bot.errors import KnowledgeError, LotsenError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_knowledge

EXIT_KNOWLEDGE = 2
EXIT_USAGE = 2


def load(settings: Settings) -> tuple[KnowledgeBase, Router]:
    """Loads the knowledge base named by the settings and builds its router."""
    kb = load_knowledge(settings.knowledge_dir, settings.contacts_file, settings.learned_path)
    return kb, Router.for_settings(kb, settings)


def _municipality_arg(kb: KnowledgeBase, value: str | None) -> str | None:
    if value is None:
        return None
    found = kb.find_municipality(value)
    if found is None:
        names = ", ".join(m.name for m in kb.municipalities.values())
        raise LotsenError(f"okänd kommun {value!r} — välj en av: {names}")
    return found


def _now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise LotsenError(f"--now ska vara en tidpunkt som 2026-11-23T14:30, fick {value!r}") from None


# -- subcommands ---------------------------------------------------------------


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    kb, router = load(settings)
    answer = router.route(args.text, _municipality_arg(kb, args.kommun), _now(args.now))
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_text(answer, kb, args.roll))
    return 0


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    kb, router = load(settings)
    out = sys.stdout
    now = _now(args.now)
    for n, line in enumerate(sys.stdin, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('raden ska vara ett JSON-objekt med "text" (sträng)')
            kommun = item.get("kommun")
            if kommun is not None and not isinstance(kommun, str):
                raise ValueError('"kommun" ska vara en sträng eller null')
            municipality = kb.find_municipality(kommun) if kommun else None
            result = router.route(item["text"], municipality, now).to_json()
        except (ValueError, json.JSONDecodeError) as exc:
            result = {"error": f"rad {n}: {exc}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.evaluation import evaluate, format_table, load_cases, router_predictor

    _, router = load(settings)
    predict = router_predictor(router, _now(args.now))
    report = evaluate(load_cases(Path(args.file)), predict)
    if args.json:
        data = report.as_dict()
        if args.errors:
            data["errors"] = report.errors
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(format_table(report))
    if args.errors:
        print()
        for e in report.errors:
            print(f"{e['id']} [{', '.join(e['problems'])}] {e['text']}")
            print(f"    expected {json.dumps(e['expected'], ensure_ascii=False)}")
            print(f"    got      {json.dumps(e['got'], ensure_ascii=False)}")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    kb, router = load(settings)
    phrasings = sum(len(t.phrasings) for t in kb.topics.values())
    contacts = sum(len(v) for v in kb.contacts.municipalities.values()) + len(kb.contacts.regional)
    print(
        f"Kunskapsbasen är giltig: {len(kb.topics)} ämnen, {phrasings} formuleringar, "
        f"{len(kb.materials)} material, {len(kb.municipalities)} kommuner, {contacts} kontakter."
    )
    shipped = ship_if_writable(kb, router.semantic.known if router.semantic else None)
    if shipped is not None and shipped.written:
        print(f"Vektorerna sparades i {shipped.path} ({shipped.vectors}, varav {shipped.added} nya).")
    from bot.cli.admin import stale_contact_warnings

    for warning in stale_contact_warnings(kb, settings):
        print(warning)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.chat import chat

    kb, router = load(settings)
    return chat(kb, router, _municipality_arg(kb, args.kommun), sys.stdin, sys.stdout, role=args.roll)


# -- parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = SwedishArgumentParser(
        prog="lotsen",
        description="Lotsen visar skolpersonal i Sörmland vart de kan vända sig när de är oroliga för en elev.",
    )
    parser.add_argument("--version", action="version", version=f"lotsen {__version__}",
                        help="visa Lotsens version och avsluta")
    sub = parser.add_subparsers(dest="command", metavar="KOMMANDO")

    p = add_command(sub, "fraga", help="ställ en fråga och se svaret precis som boten visar det")
    p.add_argument("text", metavar="TEXT", help="frågan, inom citattecken")
    p.add_argument("--kommun", metavar="KOMMUN", help="kommun (t.ex. flen, Nyköping)")
    p.add_argument("--json", action="store_true", help="skriv svaret som JSON")
    p.add_argument("--now", metavar="TIDPUNKT", help="tidpunkt för svaret (ISO 8601), påverkar kontorstid")
    p.add_argument("--roll", choices=ROLE_CHOICES, help="din roll: kontakterna ordnas efter den (larare, elevhalsa …)")
    p.set_defaults(func=cmd_ask)

    p = add_command(sub, "dirigera", help="läs JSON-rader {text, kommun} på stdin, skriv ett JSON-svar per rad")
    p.add_argument("--jsonl", action="store_true", required=True, help="JSON-rader in och ut")
    p.add_argument("--now", metavar="TIDPUNKT", help="tidpunkt för svaren (ISO 8601)")
    p.set_defaults(func=cmd_route)

    p = add_command(sub, "utvardera", help="mät träffsäkerheten mot en märkt utvärderingsfil")
    p.add_argument("file", metavar="FIL", help="YAML-fil i formatet i shared/eval/README.md")
    p.add_argument("--json", action="store_true", help="skriv måtten som JSON")
    p.add_argument("--errors", action="store_true", help="lista felroutade fall")
    p.add_argument("--now", metavar="TIDPUNKT", default="2026-11-23T10:00:00+01:00", help="tidpunkt för svaren (ISO 8601)")
    p.set_defaults(func=cmd_eval)

    p = add_command(sub, "kontrollera", help="kontrollera kunskapsbasen och contacts.yaml")
    p.set_defaults(func=cmd_validate)

    p = add_command(sub, "chatt", help="samtala med Lotsen i terminalen (standard utan Telegram-token)")
    p.add_argument("--kommun", metavar="KOMMUN", help="kommun att börja med")
    p.add_argument("--roll", choices=ROLE_CHOICES, help="din roll: kontakterna ordnas efter den")
    p.set_defaults(func=cmd_chat)

    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds the storage and Telegram subcommands (kept in their own modules)."""
    from bot.cli import admin as cli_admin
    from bot.cli import ops as cli_ops

    cli_admin.add_arguments(sub)
    cli_ops.add_run(sub)
    cli_ops.add_arguments(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command is None:
            if settings.telegram_token:
                # Never start the bot by accident (a second instance, a stray shell): say how instead.
                parser.print_help()
                print("\nLOTSEN_TELEGRAM_TOKEN är satt: starta boten med `lotsen kor`.", file=sys.stderr)
                return EXIT_USAGE
            # Embedded default: the console conversation.
            args = parser.parse_args(["chatt"])
        return int(args.func(args, settings))
    except KnowledgeError as exc:
        print("Kunskapsbasen har fel:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} fel. Rätta dem och kör `lotsen kontrollera` igen.", file=sys.stderr)
        return EXIT_KNOWLEDGE
    except LotsenError as exc:
        print(f"lotsen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
