"""A Swedish argparse: the command line's own headings and error messages in Swedish too.

argparse translates its fixed texts ("usage: ", "options", "the following
arguments are required: %s" …) through the module-level function
``argparse._`` (gettext). `SwedishArgumentParser` swaps that function for a
Swedish table while it builds itself, parses and prints help, and puts the
original back afterwards, so nothing else in the process is affected.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

SWEDISH: dict[str, str] = {
    "usage: ": "användning: ",
    "positional arguments": "argument",
    "options": "flaggor",
    "show this help message and exit": "visa den här hjälpen och avsluta",
    "%(prog)s: error: %(message)s\n": "%(prog)s: fel: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "argumentet %(argument_name)s: %(message)s",
    "the following arguments are required: %s": "följande argument behövs: %s",
    "one of the arguments %s is required": "ett av argumenten %s behövs",
    "unrecognized arguments: %s": "okända argument: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "ogiltigt val: %(value)r (välj bland %(choices)s)",
    "invalid %(type)s value: %(value)r": "ogiltigt värde (%(type)s): %(value)r",
    "expected one argument": "ett värde behövs",
    "expected at most one argument": "högst ett värde",
    "expected at least one argument": "minst ett värde behövs",
    "ambiguous option: %(option)s could match %(matches)s": "tvetydig flagga: %(option)s kan vara %(matches)s",
    "not allowed with argument %s": "går inte tillsammans med %s",
    "ignored explicit argument %r": "värdet %r ignorerades",
    "unexpected option string: %s": "oväntad flagga: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "okänt kommando %(parser_name)r (välj bland %(choices)s)",
}


def _swedish(text: str) -> str:
    return SWEDISH.get(text, text)


@contextlib.contextmanager
def swedish() -> Iterator[None]:
    """Makes argparse's own texts Swedish for the duration of the block."""
    original = argparse._  # type: ignore[attr-defined]
    argparse._ = _swedish  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = original  # type: ignore[attr-defined]


class SwedishArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose headings, help and error messages are Swedish (subparsers too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with swedish():
            super().__init__(*args, **kwargs)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        with swedish():
            return super().parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        with swedish():
            return super().format_usage()

    def format_help(self) -> str:
        with swedish():
            return super().format_help()

    def error(self, message: str) -> Any:
        with swedish():
            return super().error(message)


# Every subcommand's name (Swedish, in ASCII so scripts and unit files need no å/ä/ö), and the
# other names it answers to: its spelling with å/ä/ö, and the English name it had up to Lotsen
# 0.6, so nothing a region has scripted breaks.
COMMAND_NAMES: dict[str, tuple[str, ...]] = {
    "chatt": ("chat",),
    "fraga": ("fråga", "ask"),
    "dirigera": ("route",),
    "utvardera": ("utvärdera", "eval"),
    "kontrollera": ("validate",),
    "kor": ("kör", "run"),
    "statistik": ("stats",),
    "obesvarade": ("unanswered",),
    "konsultationer": ("consultations",),
    "exportera": ("export",),
    "kontakter": ("contacts",),
    "rapport": ("report",),
    "rensa": ("purge",),
    "initiera": ("init",),
    "halsa": ("hälsa", "health"),
    "sakerhetskopiera": ("säkerhetskopiera", "backup"),
}


def add_command(subparsers: argparse._SubParsersAction, name: str, **kwargs: Any) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Adds the subcommand `name` (a key of COMMAND_NAMES) with its other names as aliases."""
    return subparsers.add_parser(name, aliases=list(COMMAND_NAMES[name]), **kwargs)
