"""Contacts that stay true: `lotsen kontrollera` warns on stale contacts, `lotsen kontakter` lists their age."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def contacts(tmp_path, monkeypatch) -> Path:
    """A copy of contacts.yaml the test may edit, and no database."""
    path = tmp_path / "contacts.yaml"
    shutil.copy(ROOT / "contacts.yaml", path)
    monkeypatch.setenv("LOTSEN_CONTACTS", str(path))
    monkeypatch.setenv("LOTSEN_DB", str(tmp_path / "none.sqlite3"))
    monkeypatch.delenv("LOTSEN_VERIFY_DAYS", raising=False)
    return path


def _age(day: str) -> int:
    return (datetime.now(ZoneInfo("Europe/Stockholm")).date() - datetime.fromisoformat(day).date()).days


def test_validate_warns_on_stale_contacts_but_passes(contacts, capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    line = next(i for i, row in enumerate(contacts.read_text(encoding="utf-8").splitlines(), 1) if "verified: 2026-03-02" in row)
    assert (
        f"contacts.yaml:{line}: varning: Yusuf Testström (Gnesta) kontrollerades senast 2026-03-02 "
        f"({_age('2026-03-02')} dagar sedan) — ring och kontrollera"
    ) in out
    assert "(ansvarig: Eva Exempeldal)" in out


def test_verify_days_sets_what_counts_as_stale(contacts, capsys, monkeypatch):
    monkeypatch.setenv("LOTSEN_VERIFY_DAYS", "100000")
    assert main(["validate"]) == 0
    assert "varning" not in capsys.readouterr().out
    monkeypatch.setenv("LOTSEN_VERIFY_DAYS", "0")
    assert main(["validate"]) == 1
    assert "LOTSEN_VERIFY_DAYS ska vara minst 1" in capsys.readouterr().err


def test_kontakter_lists_age_and_inaktuella_only_the_stale(contacts, capsys, monkeypatch):
    monkeypatch.setenv("LOTSEN_VERIFY_DAYS", str(_age("2026-06-01")))  # stale: verified before June 2026
    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace("  verified: 2026-09-01\n", "", 1), encoding="utf-8")  # sos-112: never verified
    assert main(["kontakter"]) == 0
    every = capsys.readouterr().out
    assert "flen-bup-kontakt" in every and "Jonas Provström" in every
    assert main(["kontakter", "--inaktuella"]) == 0
    stale = capsys.readouterr().out.splitlines()
    assert stale[0].startswith("! aldrig kontrollerad") and "sos-112" in stale[0]
    assert f"! 2026-02-16 ({_age('2026-02-16')} dagar sedan)" in stale[1] and "Sara Provholm" in stale[1]
    assert "flen-bup-kontakt" not in "\n".join(stale)
