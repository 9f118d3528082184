"""Redaction: how many identifiers of each kind are removed, and how many words that must stay are removed too.

    python bench/privacy.py FILE.yaml [FILE.yaml …] [--json] [--misses]

A labelled privacy file lists per message its identifiers (kind and text, as
written) and words to keep (`tests/data/privacy_*.yaml`). An identifier counts as
removed when every letter and digit of each of its occurrences lies inside a
redacted span; a word to keep counts as wrongly removed when any of its letters
does. The redaction is `bot.text.identifiers.find` with the shipped knowledge
base's `Keep`, exactly as the bot redacts. Also prints the time per message.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml
from common import fail, load_kb, table

KINDS = ("name", "phone", "email", "address", "plate", "personnummer")


def covered(norm: str, spans: list[tuple[int, int, str]], needle: str) -> list[tuple[bool, bool]]:
    """For each occurrence of `needle` in `norm`: (every alphanumeric covered, any alphanumeric covered)."""
    from bot.text.personnummer import normalise

    needle = normalise(needle)
    out = []
    start = norm.find(needle)
    while start != -1:
        chars = [i for i in range(start, start + len(needle)) if norm[i].isalnum()]
        inside = [any(a <= i < b for a, b, _ in spans) for i in chars]
        out.append((all(inside), any(inside)))
        start = norm.find(needle, start + 1)
    return out


def _identifier_chars(norm: str, identifiers: list[dict]) -> set[int]:
    """Positions of every occurrence of every marked identifier."""
    from bot.text.personnummer import normalise

    out: set[int] = set()
    for ident in identifiers:
        needle = normalise(ident["text"])
        start = norm.find(needle)
        while start != -1:
            out.update(range(start, start + len(needle)))
            start = norm.find(needle, start + 1)
    return out


def score(cases: list[dict], keep) -> dict:  # noqa: ANN001 - bot.text.identifiers.Keep
    from bot.text import names
    from bot.text.identifiers import find

    names.load()  # as the router does at build: no message pays for loading the lists

    found, total, keep_total, keep_removed = Counter(), Counter(), 0, 0
    other_total, other_removed = 0, 0
    misses, wrongly, others = [], [], []
    times = []
    for case in cases:
        t = time.perf_counter()
        norm, spans = find(case["text"], keep)
        times.append(time.perf_counter() - t)
        for ident in case.get("identifiers") or []:
            kind = ident["kind"]
            total[kind] += 1
            occurrences = covered(norm, spans, ident["text"])
            if occurrences and all(full for full, _ in occurrences):
                found[kind] += 1
            else:
                misses.append((case["id"], kind, ident["text"]))
        for word in case.get("keep") or []:
            keep_total += 1
            if any(some for _, some in covered(norm, spans, word)):
                keep_removed += 1
                wrongly.append((case["id"], word))
        marked = _identifier_chars(norm, case.get("identifiers") or [])
        for m in re.finditer(r"\w+", norm):
            if any(i in marked for i in range(m.start(), m.end())):
                continue
            other_total += 1
            if any(a <= m.start() < b for a, b, _ in spans):
                other_removed += 1
                others.append((case["id"], m.group()))
    return {"found": dict(found), "total": dict(total), "keep_total": keep_total, "keep_removed": keep_removed,
            "other_total": other_total, "other_removed": other_removed, "other_words_removed": others,
            "misses": misses, "wrongly_removed": wrongly, "ms_p50": statistics.median(times) * 1000,
            "ms_p99": sorted(times)[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
            "ms_max": max(times) * 1000, "cases": len(cases)}


def render(path: str, r: dict, misses: bool) -> str:
    rows = []
    for kind in KINDS:
        n = r["total"].get(kind, 0)
        if n:
            rows.append([kind, n, r["found"].get(kind, 0), f"{r['found'].get(kind, 0) / n:.3f}"])
    n_all = sum(r["total"].values())
    f_all = sum(r["found"].values())
    rows.append(["all identifiers", n_all, f_all, f"{f_all / n_all:.3f}" if n_all else "–"])
    rate = r["keep_removed"] / r["keep_total"] if r["keep_total"] else 0.0
    lines = [f"Redaction on {path}: {r['cases']} messages", "",
             table(["kind", "identifiers", "removed", "recall"], rows), "",
             f"Words to keep wrongly removed: {r['keep_removed']} of {r['keep_total']} ({rate:.3f})",
             f"All other words wrongly removed: {r['other_removed']} of {r['other_total']} "
             f"({r['other_removed'] / max(1, r['other_total']):.4f})",
             f"Time per message: p50 {r['ms_p50']:.2f} ms, p99 {r['ms_p99']:.2f} ms, max {r['ms_max']:.2f} ms "
             "(aim: ≤ 2 ms added per message)"]
    if misses:
        lines += ["", "Missed:"] + [f"  {i} {k}: {t!r}" for i, k, t in r["misses"]]
        lines += ["Wrongly removed:"] + [f"  {i}: {w!r}" for i, w in r["wrongly_removed"]]
        lines += ["Other words removed:"] + [f"  {i}: {w!r}" for i, w in r["other_words_removed"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/privacy.py")
    parser.add_argument("files", nargs="+", help="labelled privacy files")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--misses", action="store_true", help="list every missed identifier and wrongly removed word")
    args = parser.parse_args(argv)
    from bot.knowledge.privacy import keep_for

    keep = keep_for(load_kb())
    results = {}
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            fail(f"privacy file not found: {path}")
        results[name] = score(yaml.safe_load(path.read_text(encoding="utf-8")) or [], keep)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(render(name, r, args.misses) for name, r in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
