"""What the process leaders see: statistics as text and a chart, unanswered questions, exports.

Pure formatting, shared by `lotsen statistik|unanswered|export` and the Telegram
commands /statistik, /obesvarade and /export. Storage produces the data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.knowledge.base import KnowledgeBase
    from bot.storage.statistics import Stats

STATUS_LABELS = {"ny": "nya", "vidarebefordrad": "vidarebefordrade", "hanterad": "hanterade"}
KIND_LABELS = {"declined": "avböjd", "answer": "osäker träff"}


def _table(title: str, counts: Mapping[str, int], total: int) -> list[str]:
    if not counts:
        return [title, "  (inga)"]
    width = max(len(key) for key in counts)
    lines = [title]
    for key, n in counts.items():
        share = f"{100 * n / total:.0f} %" if total else ""
        lines.append(f"  {key:<{width}}  {n:>5}  {share:>5}")
    return lines


def display_names(kb: KnowledgeBase | None) -> dict[str, str]:
    """Topic and municipality ids -> the names people know them by (ids stay when kb is None)."""
    if kb is None:
        return {}
    names = {tid: topic.name for tid, topic in kb.topics.items()}
    names.update({mid: m.name for mid, m in kb.municipalities.items()})
    return names


def _named(counts: Mapping[str, int], names: Mapping[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in counts.items():
        label = names.get(key, key)
        out[label] = out.get(label, 0) + n
    return out


def format_stats(stats: Stats, names: Mapping[str, str] | None = None) -> str:
    """Returns the statistics as a plain-text table in Swedish (fits a Telegram message in <pre>).

    `names` (see `display_names`) shows topics and municipalities by name instead of id.
    """
    names = names or {}
    period = f"sedan {stats.since:%Y-%m-%d}" if stats.since else "hela perioden"
    lines = [
        f"Lotsen – statistik, {period}",
        "",
        f"Frågor totalt:        {stats.questions}",
        f"Hälsningar och tack:  {stats.small_talk} (räknas inte som frågor)",
        f"Utan svar (avböjda):  {stats.declined} ({100 * stats.declined_share:.0f} %)",
        f"Återkoppling:         {stats.feedback_up} tumme upp, {stats.feedback_down} tumme ned",
        f"Öppna konsultationer: {stats.open_consultations}",
        "",
    ]
    answered = sum(stats.by_topic.values())
    lines += _table("Frågor per ämne (bästa träff):", _named(stats.by_topic, names), answered)
    lines.append("")
    lines += _table("Frågor per kommun:", _named(stats.by_municipality, names), stats.questions)
    lines.append("")
    lines += _table("Frågor per vecka:", stats.by_week, stats.questions)
    lines.append("")
    by_status = {STATUS_LABELS.get(k, k): v for k, v in stats.consultations_by_status.items()}
    lines += _table("Konsultationer per status:", by_status, sum(by_status.values()))
    return "\n".join(lines)


def stats_chart_png(stats: Stats, names: Mapping[str, str] | None = None) -> bytes:
    """Draws questions per topic (bars, by name when `names` is given) and per ISO week (line) and returns a PNG."""
    # Figure + Agg canvas directly: no pyplot, so no global state and no GUI backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 7), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))

    topics = list(_named(stats.by_topic, names or {}).items())[:15]
    if topics:
        labels = [name for name, _ in reversed(topics)]
        counts = [n for _, n in reversed(topics)]
        top.barh(labels, counts, color="#2f6f8f")
    else:
        top.text(0.5, 0.5, "Inga besvarade frågor ännu", ha="center", va="center", transform=top.transAxes)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title("Frågor per ämne")
    top.set_xlabel("Antal frågor")

    weeks = list(stats.by_week.items())
    if weeks:
        labels = [week.replace("-W", " v.") for week, _ in weeks]
        bottom.plot(labels, [n for _, n in weeks], marker="o", color="#c0504d")
        bottom.tick_params(axis="x", labelrotation=45)
        bottom.set_ylim(bottom=0)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        bottom.text(0.5, 0.5, "Inga frågor ännu", ha="center", va="center", transform=bottom.transAxes)
    bottom.set_title("Frågor per vecka")
    bottom.set_xlabel("Vecka")
    bottom.set_ylabel("Antal frågor")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def format_unanswered(rows: Sequence[Mapping[str, Any]]) -> str:
    """Lists questions Lotsen declined or was unsure about, newest first, as Swedish plain text."""
    if not rows:
        return "Inga obesvarade eller osäkra frågor just nu."
    lines = [f"Obesvarade och osäkra frågor ({len(rows)} senaste):", ""]
    for row in rows:
        day = str(row.get("created") or "")[:10]
        where = row.get("municipality") or "okänd kommun"
        if row.get("feedback") == -1:
            verdict = f"👎 svar om {row.get('top_topic') or 'inget ämne'}"
        elif row.get("kind") == "answer" and row.get("top_topic"):
            score = row.get("top_score") or 0.0
            verdict = f"osäker träff: {row['top_topic']} ({score:.2f})"
        else:
            verdict = "inget ämne"
        lines.append(f"#{row.get('id')}  {day}  {where}  – {verdict}")
        lines.append(f"  ”{row.get('text') or ''}”")
    lines += ["", "Lägg in bra formuleringar under phrasings: i knowledge/topics/<ämne>.yaml."]
    return "\n".join(lines)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutral(text: str) -> str:
    """The text, prefixed with a single quote when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def format_consultations(
    rows: Sequence[Any], names: Mapping[str, str], recipient: Callable[[str], str]
) -> str:
    """Lists consultations (bot.storage.database.Consultation), oldest first, as Swedish plain text."""
    if not rows:
        return "Inga konsultationer med den statusen."
    lines = [f"Konsultationer ({len(rows)}), äldst först:", ""]
    for c in rows:
        where = names.get(c.municipality or "", c.municipality or "okänd kommun")
        topic = names.get(c.topic or "", c.topic or "–")
        lines.append(f"{c.reference}  {c.created:%Y-%m-%d %H:%M}  {where}  {topic}  {c.urgency}  {c.status}")
        lines.append(f"  till: {recipient(c.route)}" + (f", misslyckade försök: {c.forward_attempts}" if c.forward_attempts else ""))
    return "\n".join(lines)


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return _neutral(json.dumps(value, ensure_ascii=False))
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return _neutral(value)
    return "" if value is None else value


def export_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Returns the rows as CSV (comma, UTF-8, header row); lists such as topics become JSON text.

    Text that a spreadsheet would run as a formula (starting with = + - @, tab or
    CR) gets a leading single quote, so Excel and LibreOffice show it as text.
    """
    if not rows:
        return ""
    buffer = io.StringIO()
    # CRLF as in RFC 4180: the writer then also quotes a cell that holds a lone CR.
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def export_jsonl(rows: Sequence[Mapping[str, Any]]) -> str:
    """Returns the rows as JSON Lines: one JSON object per line, å/ä/ö kept readable."""
    return "".join(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows)
