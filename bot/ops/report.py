"""The steering group's report: one self-contained, printable HTML file in Swedish.

`lotsen rapport --fran --till` and /rapport build it from the question and
consultation logs (no texts, no pseudonyms) and the knowledge base: questions
per municipality, topic and week, the share that was acute, unanswered or got
👎, consultations per municipality with the median time until handled, and
the contacts nobody has verified lately. Charts are inline SVG drawn by
matplotlib, so the file needs nothing else to open or print to PDF.
"""

from __future__ import annotations

import asyncio
import html
import io
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.knowledge.base import KnowledgeBase
from bot.storage.questions import SMALL_TALK_KINDS

if TYPE_CHECKING:
    from bot.storage.store import Storage

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december")
CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { padding: 0.25rem 0.8rem; border-bottom: 1px solid #e5e5e5; text-align: left; }
td.n { text-align: right; } figure.chart { margin: 1rem 0; } figure.chart svg { width: 100%; height: auto; }
.muted { color: #666; }
@media print { body { margin: 0; } figure.chart, table { break-inside: avoid; } }
"""


def swedish_day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _svg(draw: Any, title: str, height: float) -> str:
    """A matplotlib chart as an inline <svg> element (text kept as text)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        figure = Figure(figsize=(8, height), layout="constrained")
        FigureCanvasSVG(figure)
        axes = figure.subplots()
        draw(axes)
        axes.set_title(title)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _bars(counts: Mapping[str, int], empty: str) -> Any:
    def draw(axes: Any) -> None:
        from matplotlib.ticker import MaxNLocator

        if not counts:
            axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
            axes.set_axis_off()
            return
        labels = list(reversed(list(counts)))
        axes.barh(labels, [counts[k] for k in labels], color="#2f6f8f")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Antal frågor")

    return draw


def _weeks(counts: Mapping[str, int]) -> Any:
    def draw(axes: Any) -> None:
        from matplotlib.ticker import MaxNLocator

        if not counts:
            axes.text(0.5, 0.5, "Inga frågor under perioden", ha="center", va="center", transform=axes.transAxes)
            axes.set_axis_off()
            return
        axes.bar(list(counts), list(counts.values()), color="#c0504d")
        axes.tick_params(axis="x", labelrotation=45)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("Antal frågor")

    return draw


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def _duration(hours: float | None) -> str:
    if hours is None:
        return "–"
    text = f"{hours:.1f} timmar" if hours < 48 else f"{hours / 24:.1f} dagar"
    return text.replace(".", ",")  # Swedish decimal comma


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{html.escape(str(v))}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _consultation_rows(kb: KnowledgeBase, consultations: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    by_municipality: dict[str, list[Mapping[str, Any]]] = {}
    for c in consultations:
        by_municipality.setdefault(kb.municipality_name(c["municipality"]), []).append(c)
    rows = []
    for name, items in sorted(by_municipality.items()):
        hours = [
            (datetime.fromisoformat(c["handled_at"]) - datetime.fromisoformat(c["created"])).total_seconds() / 3600
            for c in items if c["handled_at"]
        ]
        rows.append([name, len(items), len(hours), _duration(statistics.median(hours) if hours else None)])
    return rows


def render_report(kb: KnowledgeBase, questions: Sequence[Mapping[str, Any]], consultations: Sequence[Mapping[str, Any]],
                  first: date, last: date, verify_days: int, today: date, confirmed: Mapping[str, date]) -> str:
    """The report as HTML text (pure: data in, document out)."""
    asked = [q for q in questions if q["kind"] not in SMALL_TALK_KINDS]
    per_municipality = Counter(kb.municipality_name(q["municipality"]) for q in asked)
    per_topic = Counter(kb.topics[q["top_topic"]].name if q["top_topic"] in kb.topics else q["top_topic"]
                        for q in asked if not q["declined"] and q["top_topic"])
    per_week: Counter[str] = Counter()
    for q in asked:
        year, week, _ = datetime.fromisoformat(q["created"]).isocalendar()
        per_week[f"{year} v. {week:02d}"] += 1
    acute = sum(1 for q in asked if q["urgent"])
    unanswered = sum(1 for q in asked if q["declined"])
    down = sum(1 for q in asked if q["feedback"] == -1)
    stale = sorted((a for a in kb.contact_ages(today, confirmed) if a.stale(verify_days)),
                   key=lambda a: (a.verified or date.min, a.contact.id))
    owner = {k: o.name for k, o in kb.contacts.owners.items()}
    summary = _table(("Mått", "Värde"), [
        ("Frågor", len(asked)),
        ("Andel akuta (barn i fara)", _share(acute, len(asked))),
        ("Andel obesvarade (Lotsen avböjde)", _share(unanswered, len(asked))),
        ("Andel med tumme ned (👎)", _share(down, len(asked))),
        ("Konsultationer", len(consultations)),
    ], numeric=(1,))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="sv"><head><meta charset="utf-8">',
        f"<title>Lotsen – rapport {first} – {last}</title><style>{CSS}</style></head><body>",
        "<h1>Lotsen – rapport till styrgruppen</h1>",
        f'<p class="muted">Tillsammans för barnens bästa i Sörmland · perioden {swedish_day(first)} – {swedish_day(last)} · '
        f"skapad {swedish_day(today)}. Inga frågetexter eller personuppgifter ingår.</p>",
        "<h2>Sammanfattning</h2>", summary,
        "<h2>Frågor per kommun</h2>", f'<figure class="chart">{_svg(_bars(dict(per_municipality.most_common()), "Inga frågor under perioden"), "Frågor per kommun", 3.5)}</figure>',
        "<h2>Frågor per ämne</h2>", f'<figure class="chart">{_svg(_bars(dict(per_topic.most_common(15)), "Inga besvarade frågor under perioden"), "Frågor per ämne", 4.5)}</figure>',
        "<h2>Frågor per vecka</h2>", f'<figure class="chart">{_svg(_weeks(dict(sorted(per_week.items()))), "Frågor per vecka", 3)}</figure>',
        "<h2>Konsultationer per kommun</h2>",
        _table(("Kommun", "Begärda", "Hanterade", "Mediantid till hanterad"), _consultation_rows(kb, consultations), numeric=(1, 2))
        if consultations else "<p>Inga konsultationer under perioden.</p>",
        f"<h2>Kontakter som inte kontrollerats på {verify_days} dagar</h2>",
        _table(("Kontakt", "Gäller", "Senast kontrollerad", "Ansvarig"),
               [(a.contact.name, a.where, f"{a.verified} ({a.age} dagar)" if a.verified else "aldrig", owner.get(a.contact.owner, "–")) for a in stale])
        if stale else "<p>Alla kontakter är kontrollerade.</p>",
        "</body></html>",
    ])


async def build_report(storage: Storage, kb: KnowledgeBase, start: datetime, end: datetime, verify_days: int) -> str:
    """Reads the period [start, end) from storage and renders the report."""
    questions, consultations = await storage.statistics.report_rows(start, end)
    confirmed = await storage.curation.contact_confirmations()
    today = datetime.now(start.tzinfo).date()
    # Drawing the charts takes a moment: off the event loop, so the bot keeps answering.
    return await asyncio.to_thread(
        render_report,kb, questions, consultations, start.date(), (end - timedelta(days=1)).date(), verify_days, today, confirmed
    )
