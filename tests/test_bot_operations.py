"""`lotsen kor` in production, as real processes: one instance, takeover after a kill, the last good
knowledge base, health and the per-update log line."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import ADMIN_ID, ROOT
from fakebotapi import TOKEN
from test_bot_run import _env, _start

pytestmark = pytest.mark.slow

QUESTION = "Eleven har hög frånvaro och vill inte komma till skolan"


async def _run_to_end(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Runs `python -m bot ARGS` to its end; returns (exit code, stdout + stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=30)


def _count(db_path: Path, sql: str) -> int:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


async def test_a_second_instance_is_refused_and_the_first_answers_every_question_once(fake_api, tmp_path):
    """A second `lotsen kor` on the same database exits at once naming the first; 10 questions, 10 answers."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    first = await _start(fake_api, env, log)
    try:
        code, output = await _run_to_end(env, "run", "--poll-timeout", "1")
        assert code == 1, output
        assert "kör redan" in output and f"pid {first.pid}" in output and str(db_path) in output

        users = [fake_api.user(50_000 + i, f"Lärare{i}") for i in range(5)]
        for round_ in range(2):
            for user in users:
                await user.send(f"{QUESTION} (fall {round_})")
        await fake_api.wait_for(lambda: all(len(u.messages) >= 2 for u in users), timeout=30)
        await asyncio.sleep(1.0)  # room for a duplicate answer to show up
        assert [len(u.messages) for u in users] == [2] * 5
    finally:
        assert await _stop(first) == 0
    assert _count(db_path, "SELECT COUNT(*) FROM questions") == 10


async def test_after_a_sigkill_a_new_instance_takes_over_at_once(fake_api, tmp_path):
    """The lock dies with its holder: a killed instance never blocks the next start."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path)
    first = await _start(fake_api, env, log)
    first.kill()
    assert await first.wait() == -signal.SIGKILL
    second = await _start(fake_api, env, log)
    try:
        answer = await fake_api.user(51_000).ask(QUESTION, timeout=30)
        assert "frånvaro" in answer.text.lower()
    finally:
        assert await _stop(second) == 0
    assert "kör redan" not in log.read_text()


async def test_a_broken_knowledge_base_at_restart_runs_on_the_last_good_one(fake_api, tmp_path):
    """No snapshot yet: exit 2 with the errors. After one good start: the snapshot serves and admins are told."""
    knowledge, contacts = tmp_path / "region" / "knowledge", tmp_path / "region" / "contacts.yaml"
    shutil.copytree(ROOT / "knowledge", knowledge)
    shutil.copy(ROOT / "contacts.yaml", contacts)
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path, LOTSEN_KNOWLEDGE=str(knowledge), LOTSEN_CONTACTS=str(contacts))
    topic = knowledge / "topics" / "skolfranvaro.yaml"
    good = topic.read_text(encoding="utf-8")
    broken = good.replace("keywords:", "keywords: [", 1)

    topic.write_text(broken, encoding="utf-8")
    code, output = await _run_to_end(env, "run", "--poll-timeout", "1")
    assert code == 2, output
    assert f"{topic}:" in output and "Kunskapsbasen har fel" in output

    topic.write_text(good, encoding="utf-8")
    process = await _start(fake_api, env, log)
    assert await _stop(process) == 0

    topic.write_text(broken, encoding="utf-8")
    process = await _start(fake_api, env, log)
    try:
        notice = await fake_api.user(ADMIN_ID).next_message(timeout=30)
        assert "senast fungerande" in notice.text and str(topic) in notice.text
        answer = await fake_api.user(52_000).ask(QUESTION, timeout=30)
        assert "frånvaro" in answer.text.lower()
    finally:
        assert await _stop(process) == 0
    assert "senast fungerande" in log.read_text()


async def test_health_and_one_json_log_line_per_update(fake_api, tmp_path):
    """`lotsen halsa` is 0 while the bot runs and 1 after it stopped; each update logs ids, never text."""
    db_path, log = tmp_path / "lotsen.sqlite3", tmp_path / "lotsen.log"
    env = _env(fake_api, db_path, LOTSEN_LOG_FORMAT="json")
    process = await _start(fake_api, env, log)
    try:
        code, output = await _run_to_end(env, "health")
        assert code == 0, output
        user = fake_api.user(53_001)
        await user.ask(QUESTION, timeout=30)
        await user.ask("/hjalp", timeout=30)
    finally:
        assert await _stop(process) == 0
    code, output = await _run_to_end(env, "health")
    assert code == 1 and "stannat" in output

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    updates = [line for line in lines if line["logger"] == "bot.updates"]
    assert [u["kind"] for u in updates] == ["message", "command:hjalp"]
    question = updates[0]
    assert "skolfranvaro" in question["topics"] and question["risk"] == "none"
    assert isinstance(question["update_id"], int) and question["ms"] >= 0
    text = log.read_text()
    assert "frånvaro" not in text and "53001" not in text and TOKEN.split(":")[1] not in text
    assert not [line for line in lines if line["logger"].startswith(("telegram", "apscheduler"))
                and line["level"] == "INFO"]
