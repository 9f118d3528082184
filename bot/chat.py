"""`lotsen chat`: a console conversation in Swedish over the same router as the bot.

It is the embedded default when no Telegram token is configured, so a process
leader can try questions and see the exact answers without any setup.
"""

from __future__ import annotations

from typing import TextIO

from bot.knowledge import KnowledgeBase
from bot.render import render_text
from bot.router import Router

WELCOME = """Lotsen i terminalen. Skriv vad du är orolig för, så visar jag vart du kan vända dig.
Lotsen är inte till för akuta lägen: vid fara för liv, ring 112.
Kommandon: /kommun NAMN (välj kommun), /hjalp (exempel), /avsluta."""

HELP = """Exempel på frågor:
  • Elev i åk 8 har inte varit i skolan på tre veckor, vem kontaktar jag?
  • Vem är BUP:s kontaktperson i Flen?
  • Hur kallar man till en SIP?
  • En elev berättade att pappa slår henne.
Välj kommun med /kommun Nyköping, avsluta med /avsluta."""


def chat(kb: KnowledgeBase, router: Router, municipality: str | None, stdin: TextIO, stdout: TextIO) -> int:
    """Runs the conversation until /avsluta or end of input; returns the exit code."""
    interactive = stdin.isatty()

    def say(text: str = "") -> None:
        stdout.write(text + "\n")
        stdout.flush()

    say(WELCOME)
    say(f"Kommun: {kb.municipality_name(municipality)}" if municipality else "Ingen kommun vald ännu (/kommun NAMN).")
    while True:
        if interactive:
            stdout.write("\ndu> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            say()
            say("Hej då!")
            return 0
        text = line.strip()
        if not text:
            continue
        command, _, rest = text.partition(" ")
        command = command.lower()
        if command in ("/avsluta", "/quit", "/exit"):
            say("Hej då!")
            return 0
        if command in ("/hjalp", "/hjälp", "/help"):
            say(HELP)
            continue
        if command == "/kommun":
            found = kb.find_municipality(rest) if rest.strip() else None
            if found:
                municipality = found
                say(f"Kommun vald: {kb.municipality_name(found)}.")
            else:
                say("Jag känner inte igen kommunen. Välj en av: " + ", ".join(m.name for m in kb.municipalities.values()))
            continue
        answer = router.route(text, municipality)
        say()
        say(render_text(answer, kb))
