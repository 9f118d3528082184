"""Turning an `Answer` into the Swedish reply a user reads, as Telegram HTML or plain text.

Both forms come from the same blocks, so `lotsen fraga` and `lotsen chatt` show
exactly what the bot sends. The layout puts who to call on the first screen:

1. for an acute risk, the emergency route for the kind of danger and the time of
   day (knowledge/emergency.yaml); for a possible risk one line with the acute
   numbers; otherwise nothing;
2. the title (topic – municipality) and two or three contacts, ordered for the
   asker's role (a teacher starts with the school's elevhälsa, student health
   with the BUP contact and social services);
3. at most five short "gör så här" lines (knowledge/steps.yaml, else the first
   sentences of the topic's answer), then material. The full advice is behind
   the "Mer om …" button (`render_more`).

Only Lotsen's own knowledge-base text is put into the reply; the user's
message is never echoed, and every piece of text is HTML-escaped before
tags are added.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.core.answer import Answer, Kind, Risk, RoutedContact
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.schema import EmergencyRoute, Topic
from bot.text.identifiers import note as removed_note_line

TELEGRAM_LIMIT = 4096
MAX_CONTACTS = 3  # contacts under "Vänd dig till"
MAX_STEPS = 5  # "gör så här" lines
MAX_STEP_CHARS = 140  # a step taken from a topic's answer is cut here
MAX_MATERIALS = 3
# Roles chosen at /start (bot.telegram.onboarding.ROLES, and finer ones a later onboarding may offer).
TEACHER_ROLES = frozenset({"larare", "mentor"})
STUDENT_HEALTH_ROLES = frozenset({"elevhalsa", "kurator", "skolskoterska", "psykolog", "specialpedagog", "rektor"})
ROLE_CHOICES = ("larare", "mentor", "elevhalsa", "kurator", "skolskoterska", "psykolog", "specialpedagog", "rektor", "annan")
# For student health these contact roles come first, in this order.
STUDENT_HEALTH_FIRST = ("bup-kontakt", "socialtjanst-mottagning", "socialtjanst-skola")
ENGLISH_ANSWER = "Lotsen answers in Swedish. Here is who to contact:"
ENGLISH_OTHER = "Lotsen answers in Swedish."
FICTIVE = "(fiktiv exempelkontakt)"
FICTIVE_NOTE = "(fiktiv exempelkontakt): påhittat exempel med nummer ur PTS serie för fiktion."
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

    def italic(self, text: str) -> str:
        return f"<i>{self.esc(text)}</i>" if self.as_html else text

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


def _small_talk(answer: Answer, kb: KnowledgeBase, out: _Out) -> bool:
    """Adds the reply to a message that is not a question; False for a real answer."""
    replies = {
        Kind.EMPTY: EMPTY_REPLY,
        Kind.GREETING: kb.smalltalk.reply_greeting,
        Kind.THANKS: kb.smalltalk.reply_thanks,
        Kind.DECLINED: (answer.own_matter and kb.smalltalk.reply_own_matter) or kb.smalltalk.reply_decline,
    }
    if answer.kind not in replies:
        return False
    if answer.language == "en":
        out.add(out.esc(ENGLISH_OTHER))
    out.add(out.esc(replies[answer.kind]))
    return True


def _clarify_vague(answer: Answer, kb: KnowledgeBase, out: _Out) -> None:
    """The question Lotsen asks when a worry is too vague to route, with numbered choices."""
    if answer.language == "en":
        out.add(out.esc(ENGLISH_OTHER))
    out.add(f"❓ {out.esc(answer.clarify or '')}")
    for i, tid in enumerate(answer.clarify_topics, 1):
        if tid in kb.topics:
            out.add(out.esc(f"{i}. {kb.topics[tid].name}"))


def _blocks(answer: Answer, kb: KnowledgeBase, out: _Out, role: str | None) -> None:
    if _small_talk(answer, kb, out):
        return
    if answer.kind is Kind.CLARIFY:
        _clarify_vague(answer, kb, out)
        return
    if answer.language == "en":
        out.add(out.esc(ENGLISH_ANSWER))
    if answer.risk is Risk.ACUTE:
        _emergency_block(answer, kb, out)
    elif answer.risk is Risk.POSSIBLE:
        out.add(_possible_line(answer, kb, out))
        out.add()
    top = answer.topics[0].topic
    where = kb.municipality_name(answer.municipality) if answer.municipality else None
    out.add(out.bold(top.name + (f" – {where}" if where else "")))
    contacts = contacts_for_role(answer, kb, role)
    if contacts:
        out.add(out.bold("Vänd dig till") + ":")
        for rc in contacts:
            for line in _contact_lines(out, rc):
                out.add(line)
    out.add()
    out.add(out.bold("Gör så här") + ":")
    for step in steps_for(top, kb, role):
        out.add(f"• {out.esc(step)}")
    if answer.materials:
        out.add()
        out.add(out.bold("Material") + ": " + out.esc(" · ".join(m.title for m in answer.materials[:MAX_MATERIALS])))
    _tail(answer, kb, out, contacts)


def _tail(answer: Answer, kb: KnowledgeBase, out: _Out, contacts: list[RoutedContact]) -> None:
    """Other topics, the clarifying question, the fiction note and the router's notes."""
    others = [t.topic.name for t in answer.topics[1:]]
    if others:
        out.add()
        out.add(out.esc("Kan också gälla: " + ", ".join(others) + "."))
    if answer.clarify:
        out.add()
        out.add(f"❓ {out.esc(answer.clarify)}")
    if any(rc.contact.fictitious for rc in (*answer.emergency, *contacts)):
        out.add()
        out.add(out.esc(FICTIVE_NOTE))
    for note in answer.notes:
        out.add()
        out.add(out.esc(note))


# ---------------------------------------------------------------------------
# Who to contact, in the order that fits the asker's role


def role_group(role: str | None) -> str | None:
    """'teacher', 'student-health' or None for the role chosen at /start."""
    if role in TEACHER_ROLES:
        return "teacher"
    if role in STUDENT_HEALTH_ROLES:
        return "student-health"
    return None


def contacts_for_role(answer: Answer, kb: KnowledgeBase, role: str | None) -> list[RoutedContact]:
    """Two or three contacts: a teacher starts with the school's elevhälsa, student health with BUP and social services."""
    routed = list(answer.contacts)
    group = role_group(role)
    if group == "teacher":
        first = next((rc for rc in routed if rc.role == "elevhalsa"), None)
        if first is None and answer.municipality is not None:
            contact = kb.contact_for("elevhalsa", answer.municipality)
            shown = {rc.contact.id for rc in (*answer.emergency, *routed)}
            if contact is not None and contact.id not in shown:
                first = RoutedContact("elevhalsa", contact, answer.municipality)
        routed = ([first] if first else []) + [rc for rc in routed if rc is not first]
    elif group == "student-health":
        rank = {r: i for i, r in enumerate(STUDENT_HEALTH_FIRST)}
        routed.sort(key=lambda rc: rank.get(rc.role, len(rank)))
        others = [rc for rc in routed if rc.role != "elevhalsa"]
        if len(others) >= 2:
            routed = others
    return routed[:MAX_CONTACTS]


def steps_for(topic: Topic, kb: KnowledgeBase, role: str | None) -> list[str]:
    """At most five short lines from knowledge/steps.yaml (the mentor's step first for teachers).

    A topic without steps gets the first sentence of each line of its `answer`.
    """
    steps = kb.steps.get(topic.id)
    if steps is not None:
        lines = list(steps.steps)
        if role_group(role) == "teacher" and steps.mentor:
            lines.insert(0, steps.mentor)
        return lines[:MAX_STEPS]
    out = []
    for line in topic.answer.splitlines():
        line = line.strip().lstrip("-•* ").strip()
        if not line:
            continue
        sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
        if len(sentence) > MAX_STEP_CHARS:
            sentence = sentence[: MAX_STEP_CHARS - 1].rsplit(" ", 1)[0] + "…"
        out.append(sentence)
    return out[:MAX_STEPS]


# ---------------------------------------------------------------------------
# The emergency route, in proportion to the risk


def _clock_roles(route: EmergencyRoute, office: bool) -> tuple[str, ...]:
    return route.office_roles if office else route.after_hours_roles


def _resolve(kb: KnowledgeBase, role: str, municipality: str | None) -> RoutedContact | None:
    """The contact for an emergency role ("112" is the national emergency number)."""
    if role == "112":
        sos = next((c for c in kb.contacts.national if c.phone.replace(" ", "") == "112"), None)
        return RoutedContact("112", sos, None) if sos else None
    if role in kb.roles and kb.roles[role].scope == "municipal" and municipality is None:
        return None
    contact = kb.contact_for(role, municipality)
    return RoutedContact(role, contact, municipality) if contact else None


def emergency_contacts(answer: Answer, kb: KnowledgeBase) -> list[RoutedContact]:
    """The router's emergency contacts that fit the kind of danger and the clock, in the route's order.

    A role the route names but the router did not pick is looked up; a municipal
    role without a municipality falls back to the social on-call service.
    """
    route = kb.emergency.get(answer.danger.value) if answer.danger else None
    if route is None:
        return list(answer.emergency)
    picked = {rc.role: rc for rc in answer.emergency}
    out: list[RoutedContact] = []
    for role in _clock_roles(route, answer.office_hours):
        rc = picked.get(role) or _resolve(kb, role, answer.municipality)
        if rc is None and role.startswith("socialtjanst"):
            rc = picked.get("socialjour") or _resolve(kb, "socialjour", None)
        if rc is not None and rc.contact.id not in {o.contact.id for o in out}:
            out.append(rc)
    return out


def _emergency_block(answer: Answer, kb: KnowledgeBase, out: _Out) -> None:
    route = kb.emergency.get(answer.danger.value) if answer.danger else None
    if route is None:
        lines = [line.strip() for line in kb.urgency.emergency_text.strip().splitlines() if line.strip()]
    else:
        lines = [route.title, *route.lines, *(route.office if answer.office_hours else route.after_hours)]
    out.add(f"🚨 {out.bold(lines[0])}" if lines else "🚨")
    for line in lines[1:]:
        out.add(out.bold(line))
    for rc in emergency_contacts(answer, kb):
        c = rc.contact
        line = f"• {out.bold(c.name)} ☎ {out.phone(c.phone)} · {out.esc(c.hours)}"
        out.add(line + (f" {FICTIVE}" if c.fictitious else ""))
    out.add()


def _possible_line(answer: Answer, kb: KnowledgeBase, out: _Out) -> str:
    """One line with the acute numbers, for a risk that may be acute."""
    route = kb.emergency.get(answer.danger.value) if answer.danger else None
    if route is None:
        return f"⚠️ {out.esc('Är ett barn i fara just nu: ring')} {out.phone('112')}."
    numbers = []
    for role in _clock_roles(route, answer.office_hours):
        rc = _resolve(kb, role, answer.municipality)
        if rc is None and role.startswith("socialtjanst"):
            rc = _resolve(kb, "socialjour", None)
        if rc is not None:
            label = "" if rc.role == "112" else f"{rc.contact.name} "
            numbers.append(out.esc(label) + out.phone(rc.contact.phone))
    return f"⚠️ {out.esc(route.possible)} " + " · ".join(numbers)


def _removed_note(answer: Answer, out: _Out) -> None:
    """The one line that tells the user what was left out of the stored question (never what it was)."""
    line = removed_note_line(answer.removed)
    if line:
        out.add()
        out.add(out.italic(line))


def _render(answer: Answer, kb: KnowledgeBase, as_html: bool, role: str | None) -> str:
    out = _Out(as_html)
    _blocks(answer, kb, out, role)
    _removed_note(answer, out)
    return out.text()


def render_html(answer: Answer, kb: KnowledgeBase, role: str | None = None) -> str:
    """The reply as Telegram HTML (parse_mode=HTML), contacts ordered for the asker's role."""
    return _render(answer, kb, as_html=True, role=role)


def render_text(answer: Answer, kb: KnowledgeBase, role: str | None = None) -> str:
    """The same reply as plain text, for the console."""
    return _render(answer, kb, as_html=False, role=role)


def render_more(topic: Topic, as_html: bool = True) -> str:
    """The topic's full advice (its `answer`), behind the "Mer om …" button."""
    out = _Out(as_html)
    out.add(out.bold(f"Mer om {topic.name.lower()}"))
    for line in topic.answer.strip().splitlines():
        out.add(out.esc(line.rstrip()))
    return out.text()


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
