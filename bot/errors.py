"""Lotsen's own exceptions. Each message is Swedish and says what to do next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LotsenError(Exception):
    """Base class: the CLI prints these as one clean line and exits non-zero."""


class ConfigError(LotsenError):
    """Raised when a LOTSEN_ environment variable is missing or malformed."""


@dataclass(frozen=True)
class Problem:
    """One problem in a knowledge-base file, shown as `file:line: what — how to fix`."""

    file: str
    line: int
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what} — {self.fix}"


class KnowledgeError(LotsenError):
    """Raised when the knowledge base or contacts.yaml cannot be loaded; lists every problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
