"""Log line formats: LOTSEN_LOG_FORMAT=text (one readable line) or json (one JSON object a line).

A record may carry structured fields in ``extra={"lotsen": {...}}`` (the
per-update line of bot.telegram.updatelog); they become top-level keys in JSON
and ``key=value`` pairs in text. Only fixed words and numbers go there: the
message itself has already passed bot.ops.privacy.RedactingFilter.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _fields(record: logging.LogRecord) -> dict[str, Any] | None:
    fields = getattr(record, "lotsen", None)
    return fields if isinstance(fields, dict) else None


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, or for structured records `… logger: update key=value …`."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        fields = _fields(record)
        if fields is not None:
            pairs = " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())
            record.message = f"update {pairs}"
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, structured fields, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = _fields(record)
        if fields is not None:
            data.update(fields)
        if record.exc_text:
            data["exception"] = record.exc_text
        elif record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()
