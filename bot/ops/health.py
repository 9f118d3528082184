"""Is Lotsen alive? The heartbeat the running bot writes, and the check `lotsen halsa` makes.

The running bot (bot.telegram.health) writes a heartbeat into the database
every `HEARTBEAT_INTERVAL` seconds: who it is (pid, host), which knowledge base
it serves (hash), when Telegram last answered it. `check_offline` reads that
from another process — a container HEALTHCHECK or a systemd timer — without
Telegram: healthy means a fresh heartbeat, a writable database, and a bot that
has not stopped.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from bot.errors import LotsenError

HEARTBEAT_INTERVAL = 15.0
HEARTBEAT_MAX_AGE = 90.0


def heartbeat(*, mode: str, started: float, kb_hash: str | None, api_ok_at: float | None,
              stopped: bool = False) -> dict[str, Any]:
    """The heartbeat record the running bot stores (times are Unix seconds)."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "mode": mode,
        "started": started,
        "at": time.time(),
        "kb_hash": kb_hash,
        "api_ok_at": api_ok_at,
        "stopped": stopped,
    }


def check_offline(db_path: Path, max_age: float = HEARTBEAT_MAX_AGE) -> dict[str, Any]:
    """Judges the bot's health from its database; returns a report with `healthy` and Swedish `problems`."""
    from bot.storage.backup import read_health

    report: dict[str, Any] = {"healthy": False, "database": str(db_path), "problems": []}
    try:
        found = read_health(db_path)
    except LotsenError as exc:
        report["problems"].append(f"lotsen: {exc}")
        return report
    beat = found["heartbeat"]
    now = time.time()
    report.update(db_writable=found["db_writable"], open_inbox=found["open_inbox"])
    if not found["db_writable"]:
        report["problems"].append(f"Databasen {db_path} går inte att skriva till just nu.")
    if beat is None:
        report["problems"].append("Boten har aldrig skrivit något livstecken i databasen — har `lotsen kor` startats?")
    else:
        age = now - float(beat["at"])
        report.update(
            heartbeat_age_s=round(age, 1), pid=beat.get("pid"), host=beat.get("host"), mode=beat.get("mode"),
            kb_hash=beat.get("kb_hash"),
            api_ok_age_s=round(now - beat["api_ok_at"], 1) if beat.get("api_ok_at") else None,
        )
        if beat.get("stopped"):
            report["problems"].append("Boten har stannat (stoppades på vanligt sätt).")
        elif age > max_age:
            report["problems"].append(f"Botens senaste livstecken är {age:.0f} s gammalt (gräns {max_age:.0f} s).")
    report["healthy"] = not report["problems"]
    return report
