"""Configuration: every setting Lotsen reads, from environment variables prefixed LOTSEN_.

This is the only place that reads the environment, so the README's table of
settings and this module are the whole truth about configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The copy of knowledge/ and contacts.yaml that a built wheel carries (written by setup.py's build step).
PACKAGE_DATA = Path(__file__).resolve().parent / "_data"


def data_root() -> Path:
    """Where the embedded region data is: the repository root in a checkout, else the installed copy."""
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "knowledge").is_dir():
        return PROJECT_ROOT
    return PACKAGE_DATA


DEFAULT_KNOWLEDGE = data_root() / "knowledge"
DEFAULT_CONTACTS = data_root() / "contacts.yaml"
DEFAULT_BOT_API_URL = "https://api.telegram.org/bot"
DEFAULT_RETENTION_DAYS = 365
DEFAULT_VERIFY_DAYS = 180
# Used only when LOTSEN_SECRET is unset (console use, tests). `lotsen kor` refuses it.
DEVELOPMENT_SECRET = "lotsen-development-secret-do-not-deploy"


def _ids(raw: str, name: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"{name} ska vara Telegram-användar-id (heltal) åtskilda med komma, fick {part!r}"
            ) from None
    return frozenset(ids)


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} ska vara ett heltal, fick {raw!r}") from None


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "på", "pa", "on", "ja", "true", "yes"):
        return True
    if raw in ("0", "av", "off", "nej", "false", "no"):
        return False
    raise ConfigError(f"{name} ska vara på eller av, fick {raw!r}")


def _default_cache(env: Mapping[str, str]) -> Path | None:
    """$XDG_CACHE_HOME/lotsen or ~/.cache/lotsen (None when there is no home directory)."""
    base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
    return Path(base) / "lotsen" if base else None
LOG_FORMATS = ("text", "json")


def _log_format(env: Mapping[str, str]) -> str:
    value = (env.get("LOTSEN_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOTSEN_LOG_FORMAT ska vara text eller json, fick {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """All of Lotsen's settings; build it with `Settings.from_env()`."""

    knowledge_dir: Path = DEFAULT_KNOWLEDGE
    contacts_file: Path = DEFAULT_CONTACTS
    telegram_token: str | None = None
    bot_api_url: str = DEFAULT_BOT_API_URL
    db_path: Path = Path("lotsen.sqlite3")
    admins: frozenset[int] = field(default_factory=frozenset)
    curator_chat: int | None = None
    secret: str = DEVELOPMENT_SECRET
    retention_days: int = DEFAULT_RETENTION_DAYS
    log_level: str = "INFO"
    log_format: str = "text"
    webhook_secret: str | None = None
    encoder: bool = True
    cache_dir: Path | None = field(default_factory=lambda: _default_cache(os.environ))
    consultations: bool = True  # LOTSEN_KONSULTATION=av turns consultation requests off explicitly
    verify_days: int = DEFAULT_VERIFY_DAYS
    learned_file: Path | None = None

    @property
    def learned_path(self) -> Path:
        """The learned overlay written by /obesvarade (LOTSEN_LEARNED, default <knowledge>/learned.yaml)."""
        return self.learned_file or self.knowledge_dir / "learned.yaml"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads LOTSEN_* variables; raises ConfigError with a Swedish hint on bad values."""
        env = os.environ if env is None else env
        retention = _int(env, "LOTSEN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
        assert retention is not None
        if retention < 1:
            raise ConfigError("LOTSEN_RETENTION_DAYS ska vara minst 1 (antal dagar som frågetext sparas)")
        return cls(
            # Absolute, so that every message naming a file says exactly where Lotsen looked.
            knowledge_dir=Path(env.get("LOTSEN_KNOWLEDGE") or DEFAULT_KNOWLEDGE).absolute(),
            contacts_file=Path(env.get("LOTSEN_CONTACTS") or DEFAULT_CONTACTS).absolute(),
            telegram_token=(env.get("LOTSEN_TELEGRAM_TOKEN") or "").strip() or None,
            bot_api_url=(env.get("LOTSEN_BOT_API_URL") or DEFAULT_BOT_API_URL).strip(),
            db_path=Path(env.get("LOTSEN_DB") or "lotsen.sqlite3").absolute(),
            admins=_ids(env.get("LOTSEN_ADMINS", ""), "LOTSEN_ADMINS"),
            curator_chat=_int(env, "LOTSEN_CURATOR_CHAT", None),
            secret=(env.get("LOTSEN_SECRET") or DEVELOPMENT_SECRET),
            retention_days=retention,
            log_level=(env.get("LOTSEN_LOG_LEVEL") or "INFO").upper(),
            log_format=_log_format(env),
            webhook_secret=(env.get("LOTSEN_WEBHOOK_SECRET") or "").strip() or None,
            encoder=_switch(env, "LOTSEN_ENCODER", True),
            cache_dir=Path(env["LOTSEN_CACHE_DIR"]) if env.get("LOTSEN_CACHE_DIR") else _default_cache(env),
            consultations=_switch(env, "LOTSEN_KONSULTATION", True),
            **_curation_settings(env),
        )


def _curation_settings(env: Mapping[str, str]) -> dict:
    """LOTSEN_VERIFY_DAYS and LOTSEN_LEARNED (the process leaders' tools)."""
    verify = _int(env, "LOTSEN_VERIFY_DAYS", DEFAULT_VERIFY_DAYS)
    assert verify is not None
    if verify < 1:
        raise ConfigError("LOTSEN_VERIFY_DAYS ska vara minst 1 (dagar innan en kontakt räknas som inaktuell)")
    learned = (env.get("LOTSEN_LEARNED") or "").strip()
    return {"verify_days": verify, "learned_file": Path(learned) if learned else None}
