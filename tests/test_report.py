"""The steering group's report: `lotsen rapport` writes one self-contained HTML file that a browser renders.

The file is opened in headless Chromium (Debian's `chromium`, installed by
.ci/run); the test checks the rendered text and that every chart is drawn.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.storage.store import Storage

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
PROBE = """<script>
const charts = [...document.querySelectorAll('figure.chart svg')].map(s => {
  const r = s.getBoundingClientRect();
  return Math.round(r.width) + 'x' + Math.round(r.height) + ':' + s.querySelectorAll('path, rect, use').length;
});
const probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = 'CHARTS ' + charts.join(';') + '\\nTEXT ' + document.body.innerText;
document.body.appendChild(probe);
</script></body>"""


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+01:00")


async def _fill(path: Path) -> None:
    """Questions and consultations in autumn 2026 (and one outside the period)."""
    async with await Storage.open(path) as storage:
        rows = [
            ("2026-09-02", "flen", "skolfranvaro", False, False),
            ("2026-09-03", "flen", "npf", False, False),
            ("2026-09-15", "eskilstuna", "sjalvmord-sjalvskada", False, True),
            ("2026-10-06", "trosa", None, True, False),
            ("2026-11-20", "eskilstuna", "skolfranvaro", False, False),
            ("2026-12-05", "gnesta", "npf", False, False),  # after the period
        ]
        for n, (day, municipality, topic, declined, urgent) in enumerate(rows):
            qid = await storage.questions.log(
                source_key=f"t:{n}", user_key="u", municipality=municipality, role=None, text="fråga",
                topics=[{"id": topic, "score": 0.9}] if topic else [], declined=declined,
                kind="declined" if declined else "answer", urgent=urgent, personnummer=False, now=_at(day),
            )
            if n == 1:
                await storage.questions.set_feedback(qid, -1)
        for n, (day, municipality, hours) in enumerate([("2026-09-10", "flen", 4), ("2026-10-01", "flen", 30), ("2026-10-02", "trosa", None)]):
            c = await storage.consultations.create(
                source_key=f"k:{n}", user_key="u", chat_id=1, municipality=municipality, topic="npf",
                text="hjälp", urgency="snart", reach="tel", route="curator", now=_at(day),
            )
            if hours is not None:
                await storage.consultations.mark_handled(c.reference, now=_at(day) + timedelta(hours=hours))


def _write_report(tmp_path: Path, monkeypatch) -> str:
    db = tmp_path / "lotsen.sqlite3"
    asyncio.run(_fill(db))
    monkeypatch.setenv("LOTSEN_DB", str(db))
    out = tmp_path / "rapport.html"
    assert main(["rapport", "--fran", "2026-09-01", "--till", "2026-11-30", "--ut", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_the_report_is_one_self_contained_swedish_file(tmp_path, monkeypatch):
    html = _write_report(tmp_path, monkeypatch)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="sv">' in html
    assert html.count("<svg") == 3
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html)  # nothing loaded from elsewhere
    assert "Problematisk skolfrånvaro" in html and "skolfranvaro" not in html  # topic names, not ids
    assert "Mediantid till hanterad" in html and "17,0 timmar" in html  # Flen: 4 h and 30 h
    assert "Yusuf Testström" in html  # a stale contact of the shipped knowledge base
    assert "Gnesta" not in html.split("Kontakter som")[0]  # the December question is outside the period


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs it: apt-get install chromium)")
def test_chromium_renders_the_text_and_every_chart(tmp_path, monkeypatch):
    html = _write_report(tmp_path, monkeypatch)
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout.split('<pre id="probe">', 1)[1]  # what the script saw after rendering
    charts = re.search(r"CHARTS ([^\n]*)", dom).group(1).split(";")
    assert len(charts) == 3
    for chart in charts:
        size, shapes = chart.split(":")
        width, height = (int(v) for v in size.split("x"))
        assert width > 300 and height > 100 and int(shapes) > 5, chart
    text = dom.split("TEXT ", 1)[1]
    for expected in ("Lotsen – rapport till styrgruppen", "1 september 2026 – 30 november 2026",
                     "Andel akuta (barn i fara)", "20 %", "Frågor per kommun", "Konsultationer per kommun",
                     "Flen", "17,0 timmar", "Yusuf Testström"):
        assert expected in text, expected
