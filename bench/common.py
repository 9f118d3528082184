"""What the benchmark scripts share: loading the knowledge base, printing tables, failing cleanly.

The scripts run as `python bench/<name>.py` from the project root (this folder
is then on sys.path, and `bot` comes from the installed package).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def fail(message: str, code: int = 2) -> NoReturn:
    """Prints one clean line to stderr and exits (no traceback)."""
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    raise SystemExit(code)


def load_kb(knowledge: Path | None = None):  # noqa: ANN201 - KnowledgeBase, imported lazily so `--help` stays fast
    """The knowledge base named by LOTSEN_KNOWLEDGE / LOTSEN_CONTACTS (default: as shipped), or in `knowledge`."""
    from bot.config import Settings
    from bot.errors import KnowledgeError, LotsenError
    from bot.knowledge.loader import load_knowledge

    try:
        settings = Settings.from_env()
        return load_knowledge(knowledge or settings.knowledge_dir, settings.contacts_file)
    except KnowledgeError as exc:
        problems = "\n  ".join(str(p) for p in exc.problems[:10])
        fail(f"kunskapsbasen har fel — kör `lotsen kontrollera`:\n  {problems}")
    except LotsenError as exc:
        fail(str(exc))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], first_left: bool = True) -> str:
    """An aligned plain-text table (Markdown-compatible pipes), numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.ljust(w) if (i == 0 and first_left) else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if not (i == 0 and first_left) else ":" + "-" * (w + 1) for i, w in enumerate(widths)
    ) + "|"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
