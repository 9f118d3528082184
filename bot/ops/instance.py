"""Exactly one `lotsen kor` per database: an OS file lock beside the database file.

Two instances on one database would both work through the inbox and answer
every question twice. `acquire(db_path)` takes an exclusive `flock` on
`<database>.lock` and writes who holds it (pid, host, start time) into the
file; a second instance finds the lock taken and stops at once with a
Swedish message naming the holder. The kernel releases the lock when the
holder's process ends in any way, so a SIGKILLed or crashed holder never
blocks a restart (its lease "expires" the moment it dies). The lock, like
SQLite's WAL mode, needs a local file system.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.errors import LotsenError


class AlreadyRunning(LotsenError):
    """Raised when another Lotsen already runs on the same database."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _describe(owner: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(owner.get("started", 0))))
    return f"pid {owner.get('pid', '?')} på {owner.get('host', '?')}, startad {started}"


@dataclass
class InstanceLock:
    """The held lock; `release()` (or process exit) lets the next instance start."""

    path: Path
    handle: IO[str]

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def acquire(db_path: Path) -> InstanceLock:
    """Takes the database's instance lock or raises AlreadyRunning naming the running one."""
    path = lock_path(db_path.absolute())
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the life of the process
    except OSError as exc:
        raise LotsenError(
            f"kan inte skapa låsfilen {path}: {exc.strerror} — finns katalogen och får Lotsen skriva där?"
        ) from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            owner = json.loads(handle.read() or "{}")
        except ValueError:
            owner = {}
        handle.close()
        raise AlreadyRunning(
            f"en annan Lotsen kör redan mot databasen {db_path.absolute()} ({_describe(owner)}). "
            "Bara en instans får köra: stoppa den först (låset: "
            f"{path})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
    handle.flush()
    return InstanceLock(path, handle)
