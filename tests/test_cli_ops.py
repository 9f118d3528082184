"""The command line for operators: Swedish help, --version, safe defaults, init, backup, make eval."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from fakebotapi import TOKEN

from bot import __version__
from bot.cli.main import build_parser
from bot.config import Settings
from bot.errors import ConfigError
from bot.storage.store import Storage


def lotsen(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
           stdin: str = "") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=base, input=stdin,
                          capture_output=True, text=True, timeout=120)


def _subcommands() -> list[str]:
    parser = build_parser()
    return list(next(a for a in parser._actions if a.dest == "command").choices)


def test_version():
    result = lotsen("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"lotsen {__version__}"


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_every_help_text_is_swedish(command, capsys):
    """argparse's own headings and help line are Swedish too, for every subcommand."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "-h"] if command else ["-h"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("användning: lotsen")
    assert "visa den här hjälpen och avsluta" in text
    for english in ("usage:", "options:", "positional arguments", "show this help", "(default"):
        assert english not in text, english


def test_a_usage_error_is_swedish():
    result = lotsen("export", "--format", "xml")
    assert result.returncode == 2
    assert "fel: argumentet --format: ogiltigt val: 'xml'" in result.stderr
    assert "error" not in result.stderr and "invalid choice" not in result.stderr


def test_bare_lotsen_with_a_token_prints_help_instead_of_starting_the_bot():
    """With LOTSEN_TELEGRAM_TOKEN set, a bare `lotsen` never starts a (second) bot."""
    result = lotsen(env={"LOTSEN_TELEGRAM_TOKEN": TOKEN, "LOTSEN_BOT_API_URL": "http://127.0.0.1:9/bot"})
    assert result.returncode == 2
    assert result.stdout.startswith("användning: lotsen") and "lotsen kor" in result.stderr


def test_run_refuses_a_short_secret(tmp_path):
    env = {"LOTSEN_TELEGRAM_TOKEN": TOKEN, "LOTSEN_SECRET": "x" * 31, "LOTSEN_DB": str(tmp_path / "db.sqlite3"),
           "LOTSEN_BOT_API_URL": "http://127.0.0.1:9/bot"}
    result = lotsen("run", env=env)
    assert result.returncode == 2
    assert "LOTSEN_SECRET är för kort" in result.stderr and "32" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_the_webhook_listens_on_localhost_unless_told_otherwise():
    parser = build_parser()
    assert parser.parse_args(["run", "--webhook", "https://x.se/tg"]).listen == "127.0.0.1"
    assert parser.parse_args(["run", "--listen", "0.0.0.0"]).listen == "0.0.0.0"


def test_log_format_is_text_or_json():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"LOTSEN_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOTSEN_LOG_FORMAT"):
        Settings.from_env({"LOTSEN_LOG_FORMAT": "xml"})


def test_paths_in_settings_and_errors_are_absolute(tmp_path):
    """A relative LOTSEN_KNOWLEDGE is reported with the absolute path Lotsen looked at."""
    result = lotsen("validate", env={"LOTSEN_KNOWLEDGE": "saknas", "LOTSEN_CONTACTS": "kontakter.yaml"},
                    cwd=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path}/saknas/glossary.yaml:1: filen saknas" in result.stderr
    assert f"{tmp_path}/kontakter.yaml:1: filen saknas" in result.stderr
    settings = Settings.from_env({"LOTSEN_DB": "x.sqlite3"})
    assert settings.db_path.is_absolute() and settings.knowledge_dir.is_absolute()


def test_init_writes_an_editable_copy_that_validates_and_is_never_overwritten(tmp_path):
    target = tmp_path / "region"
    result = lotsen("init", str(target))
    assert result.returncode == 0, result.stderr
    assert f"LOTSEN_KNOWLEDGE={target}/knowledge" in result.stdout
    assert (target / "contacts.yaml").read_text(encoding="utf-8") == (ROOT / "contacts.yaml").read_text(encoding="utf-8")
    assert (target / "knowledge" / "topics" / "sip.yaml").is_file()
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert "lotsen kontrollera" in readme and str(target / "knowledge") in readme

    env = {"LOTSEN_KNOWLEDGE": str(target / "knowledge"), "LOTSEN_CONTACTS": str(target / "contacts.yaml")}
    topic = target / "knowledge" / "topics" / "sip.yaml"
    topic.write_text(topic.read_text(encoding="utf-8").replace("roles:", "roles: [", 1), encoding="utf-8")
    broken = lotsen("validate", env=env)
    assert broken.returncode == 2 and f"{topic}:" in broken.stderr  # it really reads the copy

    again = lotsen("init", str(target))
    assert again.returncode == 1 and "finns redan" in again.stderr
    assert "roles: [" in topic.read_text(encoding="utf-8")


async def _log_questions(path: Path, stop: asyncio.Event, committed: list[str]) -> None:
    async with await Storage.open(path) as storage:
        n = 0
        while not stop.is_set():
            key = f"cli:{n}"
            await storage.questions.log(source_key=key, user_key=None, municipality=None, role=None,
                                       text=f"fråga {n}", topics=[], declined=True, kind="declined",
                                       urgent=False, personnummer=False)
            committed.append(key)
            n += 1
            await asyncio.sleep(0)


async def test_backup_of_a_live_database_has_every_committed_row_and_keeps_n(tmp_path):
    """Backups taken while another connection keeps committing: each opens and holds every earlier commit."""
    db_path, dest = tmp_path / "lotsen.sqlite3", tmp_path / "kopior"
    async with await Storage.open(db_path):
        pass
    stop, committed = asyncio.Event(), []
    writer = asyncio.create_task(_log_questions(db_path, stop, committed))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env["LOTSEN_DB"] = str(db_path)
    try:
        checks = []
        for _ in range(3):
            while len(committed) < 20 * (len(checks) + 1):
                await asyncio.sleep(0.01)
            before = list(committed)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "backup", str(dest), "--behall", "2", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
            checks.append((before, Path(out.decode().split("Säkerhetskopia: ")[1].split(" (")[0])))
    finally:
        stop.set()
        await writer
    copies = sorted(dest.glob("*.sqlite3"))
    assert copies == sorted(path for _, path in checks[1:])  # only the newest two are kept
    for before, path in checks[1:]:
        db = sqlite3.connect(path)
        try:
            keys = {key for (key,) in db.execute("SELECT source_key FROM questions")}
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
        assert set(before) <= keys
        assert keys <= set(committed)


def test_backup_of_a_missing_database_says_where_it_looked(tmp_path):
    result = lotsen("backup", str(tmp_path / "b"), env={"LOTSEN_DB": str(tmp_path / "nej.sqlite3")})
    assert result.returncode == 1 and f"{tmp_path}/nej.sqlite3 finns inte" in result.stderr


def _make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`make ARGS`, also when the tests themselves run under `make test` (no inherited make state)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_eval_works_without_the_shared_development_set(tmp_path):
    """On a fresh clone without ../shared, `make eval` evaluates a labelled set shipped in tests/data."""
    clone = tmp_path / "clone"
    (clone / "tests" / "data").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, clone / name)
    for name in ("holdout.yaml", "dev.yaml"):
        if (ROOT / "tests" / "data" / name).exists():
            shutil.copy(ROOT / "tests" / "data" / name, clone / "tests" / "data" / name)
    result = _make("-n", "eval", cwd=clone)
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip().splitlines()[-1]
    assert command.startswith(".venv/bin/lotsen utvardera tests/data/")
    evaluated = lotsen("eval", command.split()[-1], cwd=clone)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "topic@1" in evaluated.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_chat_installs_runtime_dependencies_only():
    result = _make("-n", "-B", "chat")
    assert result.returncode == 0, result.stderr
    assert "pip install --quiet -e .\n" in result.stdout
    assert "[" not in result.stdout  # no extras
    tests = _make("-n", "-B", "test")  # the test tools and the bench libraries (the benchmarks' smoke tests)
    assert "-e '.[test,bench]'" in tests.stdout and "mypy" in tests.stdout


def test_the_instance_lock_names_its_holder_and_is_free_again_after_release(tmp_path):
    from bot.errors import LotsenError
    from bot.ops import instance

    db_path = tmp_path / "lotsen.sqlite3"
    held = instance.acquire(db_path)
    try:
        with pytest.raises(instance.AlreadyRunning, match=f"pid {os.getpid()} på "):
            instance.acquire(db_path)
    finally:
        held.release()
    instance.acquire(db_path).release()
    with pytest.raises(LotsenError, match="finns katalogen"):
        instance.acquire(tmp_path / "saknas" / "lotsen.sqlite3")
