"""Health: webhook mode's GET /healthz, the heartbeat and `lotsen halsa`, the knowledge snapshots.

"The database is not writable" is simulated by another connection that holds
SQLite's write lock (BEGIN EXCLUSIVE): the tests run as root, and root ignores
file permissions, so a chmod would not stop a write. For the bot the effect is
the same as a read-only or full disk: no write transaction commits.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys

import httpx
from conftest import ROOT
from fakebotapi import TOKEN

from bot.ops import snapshot
from bot.ops.health import check_offline
from bot.storage.store import Storage
from bot.telegram.app import build_application, running
from bot.telegram.health import write_heartbeat
from bot.telegram.webhook import serve_webhook, webhook_secret


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_healthz_is_200_then_503_while_the_database_takes_no_write(fake_api, bot_settings, kb):
    """/healthz reports database, knowledge hash, Bot API age and inbox; 503 while writes fail, 200 after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    application = build_application(bot_settings, kb=kb)
    stop = asyncio.Event()
    async with running(application, stop) as services:
        services.kb_hash = "abc123"
        task = asyncio.create_task(serve_webhook(application, stop, url=url, secret=webhook_secret(bot_settings),
                                                 port=port))
        try:
            await fake_api.wait_for(lambda: fake_api.webhook_url == url)
            health_url = f"http://127.0.0.1:{port}/healthz"
            async with httpx.AsyncClient(timeout=20) as client:
                ok = await client.get(health_url)
                blocker = sqlite3.connect(bot_settings.db_path, isolation_level=None)
                try:
                    blocker.execute("BEGIN EXCLUSIVE")
                    sick = await client.get(health_url)
                finally:
                    blocker.execute("ROLLBACK")
                    blocker.close()
                again = await client.get(health_url)
        finally:
            stop.set()
            await task
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["healthy"] is True and body["db_writable"] is True
    assert body["knowledge_hash"] == "abc123" and body["knowledge_topics"] == len(kb.topics)
    assert body["open_inbox"] == 0
    assert body["bot_api_last_ok_age_s"] is not None and body["bot_api_last_ok_age_s"] < 60
    assert sick.status_code == 503
    assert sick.json()["db_writable"] is False and sick.json()["healthy"] is False
    assert again.status_code == 200
    assert TOKEN not in ok.text


def _health(db_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    env["LOTSEN_DB"] = str(db_path)
    return subprocess.run([sys.executable, "-m", "bot", "health", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


async def test_lotsen_health_follows_the_heartbeat(fake_api, bot_settings, kb):
    """No database or no heartbeat: exit 1; a fresh heartbeat: 0; after a clean stop or when stale: 1."""
    missing = _health(bot_settings.db_path)
    assert missing.returncode == 1 and "finns inte" in missing.stdout
    assert not bot_settings.db_path.exists()  # health never creates a database

    application = build_application(bot_settings, kb=kb)
    async with running(application):
        never = _health(bot_settings.db_path)
        await write_heartbeat(application, "polling")
        alive = _health(bot_settings.db_path, "--json")
        stale = _health(bot_settings.db_path, "--max-alder", "0")
        await write_heartbeat(application, "polling", stopped=True)
        stopped = _health(bot_settings.db_path)
    assert never.returncode == 1 and "livstecken" in never.stdout
    assert alive.returncode == 0, alive.stdout + alive.stderr
    report = json.loads(alive.stdout)
    assert report["healthy"] and report["pid"] == os.getpid() and report["db_writable"]
    assert report["api_ok_age_s"] is not None  # getMe succeeded at start
    assert stale.returncode == 1 and "gammalt" in stale.stdout
    assert stopped.returncode == 1 and "stannat" in stopped.stdout


def test_check_offline_reports_a_locked_database(tmp_path):
    """A database whose write lock is held elsewhere is reported as not writable."""
    path = tmp_path / "lotsen.sqlite3"

    async def create() -> None:
        async with await Storage.open(path) as storage:
            await storage.db.set_state("heartbeat", json.dumps({"at": 0}))

    asyncio.run(create())
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        report = check_offline(path)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert report["healthy"] is False and report["db_writable"] is False
    assert any("skriva" in p for p in report["problems"])


async def test_snapshots_keep_the_newest_good_knowledge_bases(tmp_path):
    """Each loaded knowledge base is saved once per content; the newest comes back intact."""
    files = snapshot.read_files(ROOT / "knowledge", ROOT / "contacts.yaml")
    assert "contacts.yaml" in files and "knowledge/topics/sip.yaml" in files
    async with await Storage.open(tmp_path / "db.sqlite3") as storage:
        assert await storage.snapshots.latest() is None
        for n in range(5):
            changed = dict(files, **{"knowledge/extra.yaml": f"# version {n}\n"})
            await storage.snapshots.save(snapshot.digest(changed), changed)
        await storage.snapshots.save(snapshot.digest(files), files)
        found = await storage.snapshots.latest()
        count = await storage.db.read("SELECT COUNT(*) FROM knowledge_snapshots")
    assert found is not None
    digest, _, got = found
    assert digest == snapshot.digest(files) and got == files
    assert count[0][0] == 3
    knowledge, contacts = snapshot.materialize(got, tmp_path / "restored")
    restored = snapshot.read_files(knowledge, contacts)
    assert restored == files


def test_the_update_line_keeps_its_fields_past_the_redacting_filter():
    """Update ids look like Telegram ids to the filter; as structured fields they survive, in both formats."""
    import logging

    from bot.ops.logformat import JsonFormatter, TextFormatter
    from bot.ops.privacy import RedactingFilter

    fields = {"update_id": 912345678, "kind": "message", "topics": ["npf", "sip"], "risk": "none", "ms": 12.5}
    record = logging.LogRecord("bot.updates", logging.INFO, __file__, 1, "update", None, None)
    record.lotsen = fields
    other = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "chat %s", (912345678,), None)
    for item in (record, other):
        assert RedactingFilter().filter(item)
    text = TextFormatter().format(record)
    assert text.endswith("bot.updates: update update_id=912345678 kind=message topics=npf,sip risk=none ms=12.5")
    assert json.loads(JsonFormatter().format(record))["update_id"] == 912345678
    assert json.loads(JsonFormatter().format(record))["topics"] == ["npf", "sip"]
    assert "912345678" not in TextFormatter().format(other)  # ordinary messages stay redacted


async def test_a_successful_ladda_om_is_snapshotted_and_changes_the_hash(fake_api, start_bot, bot_settings, tmp_path):
    """/ladda_om that loads saves the new knowledge base as the last good one; a broken one saves nothing."""
    import dataclasses
    import shutil

    from conftest import ADMIN_ID

    knowledge, contacts = tmp_path / "knowledge", tmp_path / "contacts.yaml"
    shutil.copytree(ROOT / "knowledge", knowledge)
    shutil.copy(ROOT / "contacts.yaml", contacts)
    settings = dataclasses.replace(bot_settings, knowledge_dir=knowledge, contacts_file=contacts)
    topic = knowledge / "topics" / "sip.yaml"
    async with start_bot(settings, load_kb=True) as bot:
        admin = fake_api.user(ADMIN_ID)
        topic.write_text(topic.read_text(encoding="utf-8") + "\n# ändrad\n", encoding="utf-8")
        assert "omladdad" in (await admin.ask("/ladda_om")).text
        first = await bot.services.storage.snapshots.latest()
        topic.write_text("id: [trasig\n", encoding="utf-8")
        assert "laddades inte om" in (await admin.ask("/ladda_om")).text
        after_broken = await bot.services.storage.snapshots.latest()
        kb_hash = bot.services.kb_hash
    assert first is not None and after_broken is not None
    assert first[0] == after_broken[0] == kb_hash
    assert first[2]["knowledge/topics/sip.yaml"].endswith("# ändrad\n")
