"""Turning an `Answer` into the Swedish reply a user reads, as Telegram HTML or plain text.

Both forms come from the same blocks, so `lotsen ask` shows exactly what the
bot sends. Only Lotsen's own knowledge-base text is put into the reply; the
user's message is never echoed, and every piece of text is HTML-escaped before
tags are added.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.answer import Answer, Kind, RoutedContact
from bot.knowledge import KnowledgeBase

TELEGRAM_LIMIT = 4096
FICTIVE = "(fiktiv exempelkontakt)"
FICTIVE_NOTE = (
    "Kontakter märkta (fiktiv exempelkontakt) är påhittade exempel med nummer ur PTS serier för fiktion. "
    "Kommunen ska ersätta dem med riktiga kontaktuppgifter."
)
PERSONNUMMER_NOTE = "Skriv aldrig personnummer eller namn här. Jag har tagit bort numret och sparar det inte."
EMPTY_REPLY = (
    "Jag hittade ingen text att läsa i meddelandet. Beskriv med egna ord vad du är orolig för, "
    "till exempel: ”Elev i åk 7 har hög frånvaro och mår dåligt, vart vänder jag mig?”"
)


def _tel(phone: str) -> str:
    digits = re.sub(r"[^\d+]", "", phone)
    return f"tel:{digits}"


class _Out:
    """Collects lines in one of two styles: Telegram HTML or plain text."""

    def __init__(self, as_html: bool):
        self.as_html = as_html
        self.lines: list[str] = []

    def esc(self, text: str) -> str:
        return html.escape(text, quote=False) if self.as_html else text

    def bold(self, text: str) -> str:
        return f"<b>{self.esc(text)}</b>" if self.as_html else text

    def phone(self, phone: str) -> str:
        if self.as_html:
            return f'<a href="{html.escape(_tel(phone))}">{self.esc(phone)}</a>'
        return phone

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def text(self) -> str:
        out = "\n".join(self.lines).strip()
        return re.sub(r"\n{3,}", "\n\n", out)


def _contact_lines(out: _Out, rc: RoutedContact) -> list[str]:
    """Two lines per contact: who they are, then a tappable phone number and opening hours."""
    c = rc.contact
    who = f"• {out.bold(c.name)}" + (f" – {out.esc(c.title)}" if c.title and c.title != c.name else "")
    how = f"   ☎ {out.phone(c.phone)} · {out.esc(c.hours)}"
    if c.fictitious:
        how += f" {FICTIVE}"
    return [who, how]


def _blocks(answer: Answer, kb: KnowledgeBase, out: _Out) -> None:
    if answer.personnummer:
        out.add(out.esc(PERSONNUMMER_NOTE))
        out.add()
    if answer.kind is Kind.EMPTY:
        out.add(out.esc(EMPTY_REPLY))
        return
    if answer.kind is Kind.GREETING:
        out.add(out.esc(kb.smalltalk.reply_greeting))
        return
    if answer.kind is Kind.THANKS:
        out.add(out.esc(kb.smalltalk.reply_thanks))
        return
    if answer.kind is Kind.DECLINED:
        out.add(out.esc(kb.smalltalk.reply_decline))
        return
    if answer.kind is Kind.CLARIFY:
        out.add(f"❓ {out.esc(answer.clarify or '')}")
        for i, tid in enumerate(answer.clarify_topics, 1):
            if tid in kb.topics:
                out.add(out.esc(f"{i}. {kb.topics[tid].name}"))
        return

    if answer.urgent:
        emergency = kb.urgency.emergency_text.strip().splitlines()
        out.add(f"🚨 {out.bold(emergency[0])}" if emergency else "🚨")
        for line in emergency[1:]:
            if line.strip():
                out.add(out.bold(line.strip()))
        for rc in answer.emergency:
            for line in _contact_lines(out, rc):
                out.add(line)
        out.add()

    top = answer.topics[0].topic
    where = kb.municipality_name(answer.municipality) if answer.municipality else None
    heading = top.name + (f" – {where}" if where else "")
    out.add(out.bold(heading))
    for line in top.answer.strip().splitlines():
        out.add(out.esc(line.rstrip()))
    if answer.contacts:
        out.add()
        out.add(out.bold("Vänd dig till") + (f" ({out.esc(where)})" if where else "") + ":")
        for rc in answer.contacts:
            for line in _contact_lines(out, rc):
                out.add(line)
    if answer.materials:
        out.add()
        out.add(out.bold("Material") + ":")
        for m in answer.materials:
            out.add(f"• {out.esc(m.title)} – {out.esc(m.where)}")
    others = [t.topic.name for t in answer.topics[1:]]
    if others:
        out.add()
        out.add(out.esc("Kan också gälla: " + ", ".join(others) + "."))
    if answer.clarify:
        out.add()
        out.add(f"❓ {out.esc(answer.clarify)}")
    if any(rc.contact.fictitious for rc in (*answer.emergency, *answer.contacts)):
        out.add()
        out.add(out.esc(FICTIVE_NOTE))
    for note in answer.notes:
        out.add()
        out.add(out.esc(note))


def _render(answer: Answer, kb: KnowledgeBase, as_html: bool) -> str:
    out = _Out(as_html)
    _blocks(answer, kb, out)
    return out.text()


def render_html(answer: Answer, kb: KnowledgeBase) -> str:
    """The reply as Telegram HTML (parse_mode=HTML); urgent answers start with the emergency route."""
    return _render(answer, kb, as_html=True)


def render_text(answer: Answer, kb: KnowledgeBase) -> str:
    """The same reply as plain text, for the console."""
    return _render(answer, kb, as_html=False)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = TELEGRAM_LIMIT, measure: Callable[[str], int] = utf16_len) -> list[str]:
    """Splits a reply into parts under `limit`, at line breaks, never inside an HTML tag.

    Lines are kept whole where possible; a single line longer than the limit is
    cut at a space. Tags opened in a part are closed at its end and reopened in
    the next, so every part is valid Telegram HTML on its own.
    """
    margin = 64  # room for closing and reopening tags
    budget = max(16, limit - margin)
    parts: list[str] = []
    current: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            parts.append("\n".join(current))
        current, size = [], 0

    for line in text.split("\n"):
        pieces = _cut_line(line, budget, measure)
        for piece in pieces:
            n = measure(piece) + 1
            if size + n > budget and current:
                flush()
            current.append(piece)
            size += n
    flush()
    return [_balance(p) for p in _carry_tags(parts)] or [""]


def _cut_line(line: str, budget: int, measure: Callable[[str], int]) -> list[str]:
    if measure(line) <= budget:
        return [line]
    out: list[str] = []
    rest = line
    while measure(rest) > budget:
        # Find the longest prefix within budget that ends at a space outside a tag.
        cut = len(rest)
        while cut > 0 and measure(rest[:cut]) > budget:
            cut = int(cut * 0.9)
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        while rest.rfind("<", 0, cut) > rest.rfind(">", 0, cut):
            cut = rest.rfind("<", 0, cut)
        # Never split an HTML entity such as &amp;
        amp = rest.rfind("&", max(0, cut - 8), cut)
        if amp != -1 and ";" not in rest[amp:cut]:
            cut = amp
        cut = max(cut, 1)
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    out.append(rest)
    return out


def _open_tags(text: str) -> list[str]:
    """The opening tags (in order) that are still open at the end of `text`."""
    stack: list[tuple[str, str]] = []
    for m in re.finditer(r"<(/?)(b|i|u|s|code|pre|a)(\s[^>]*)?>", text):
        closing, name = m.group(1), m.group(2)
        if not closing:
            stack.append((name, m.group(0)))
            continue
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                del stack[i]
                break
    return [tag for _, tag in stack]


def _carry_tags(parts: list[str]) -> list[str]:
    out: list[str] = []
    carried: list[str] = []
    for part in parts:
        out.append("".join(carried) + part)
        carried = _open_tags(out[-1])
    return out


def _balance(part: str) -> str:
    opened = _open_tags(part)
    for tag in reversed(opened):
        name = re.match(r"<(\w+)", tag)
        if name:
            part += f"</{name.group(1)}>"
    return part
