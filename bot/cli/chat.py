"""`lotsen chatt`: a console conversation in Swedish over the same router as the bot.

It is the embedded default when no Telegram token is configured, so a process
leader can try questions and see the exact answers without any setup. When
Lotsen asks which of two topics is meant, the options are numbered and the
user answers with the number; `/mer` prints the full advice of the last topic.
"""

from __future__ import annotations

from typing import TextIO

from bot.core.answer import Answer
from bot.core.render import render_more, render_text
from bot.core.router import Router
from bot.knowledge.base import KnowledgeBase

WELCOME = """Lotsen i terminalen. Skriv vad du är orolig för, så visar jag vart du kan vända dig.
Lotsen är inte till för akuta lägen: vid fara för liv, ring 112.
Kommandon: /kommun NAMN (välj kommun), /mer (hela rådet), /hjalp (exempel), /avsluta."""

HELP = """Exempel på frågor:
  • Elev i åk 8 har inte varit i skolan på tre veckor, vem kontaktar jag?
  • Vem är BUP:s kontaktperson i Flen?
  • Hur kallar man till en SIP?
  • En elev berättade att pappa slår henne.
Välj kommun med /kommun Nyköping, avsluta med /avsluta."""

CONSULTATION = (
    "Konsultation med BUP:s kontaktperson begär du i Telegram: skriv /konsultation till Lotsen där. "
    "Här i terminalen kan du ställa frågor och se svaren."
)
NO_TOPIC_YET = "Ställ en fråga först, så kan du läsa mer om ämnet med /mer."


class _Conversation:
    """The console conversation's state: municipality, role, the last question and its options."""

    def __init__(self, kb: KnowledgeBase, router: Router, municipality: str | None, role: str | None):
        self.kb, self.router = kb, router
        self.municipality, self.role = municipality, role
        self.last_text: str | None = None
        self.last_topic: str | None = None
        self.options: tuple[str, ...] = ()

    def ask(self, text: str, topic: str | None = None) -> str:
        answer = self.router.route(text, self.municipality, topic=topic)
        self.last_text, self.last_topic = text, answer.top_topic or self.last_topic
        self.options = tuple(t for t in answer.clarify_topics if t in self.kb.topics)
        return render_text(answer, self.kb, self.role) + self._numbered(answer)

    def _numbered(self, answer: Answer) -> str:
        if not self.options:
            return ""
        lines = ["", "Svara med en siffra:"]
        lines += [f"  {i}. {self.kb.topics[t].name}" for i, t in enumerate(self.options, 1)]
        return "\n".join(lines)

    def choose(self, number: str) -> str | None:
        """The answer for a numbered option, or None when `number` is not one."""
        if not (number.isdigit() and 1 <= int(number) <= len(self.options) and self.last_text):
            return None
        return self.ask(self.last_text, topic=self.options[int(number) - 1])

    def command(self, command: str, rest: str) -> str | None:
        """The reply to a console command, or None when `command` is not one."""
        if command in ("/hjalp", "/hjälp", "/help"):
            return HELP
        if command == "/konsultation":
            return CONSULTATION
        if command == "/mer":
            topic = self.kb.topics.get(self.last_topic or "")
            return render_more(topic, as_html=False) if topic else NO_TOPIC_YET
        if command == "/kommun":
            found = self.kb.find_municipality(rest) if rest.strip() else None
            if found:
                self.municipality = found
                return f"Kommun vald: {self.kb.municipality_name(found)}."
            return "Jag känner inte igen kommunen. Välj en av: " + ", ".join(m.name for m in self.kb.municipalities.values())
        return None


def chat(kb: KnowledgeBase, router: Router, municipality: str | None, stdin: TextIO, stdout: TextIO,
         role: str | None = None) -> int:
    """Runs the conversation until /avsluta or end of input; returns the exit code."""
    interactive = stdin.isatty()
    talk = _Conversation(kb, router, municipality, role)

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
        if command.lower() in ("/avsluta", "/quit", "/exit"):
            say("Hej då!")
            return 0
        reply = talk.command(command.lower(), rest) if command.startswith("/") else talk.choose(text)
        if reply is None:
            say()
            reply = talk.ask(text)
        say(reply)
