"""Routing latency as the knowledge base grows: `Router.route()` p50/p99, messages per second, memory.

    python bench/latency.py [--n 3000] [--sizes 1,10,100] [--json] [--profile SIZE]

The knowledge base is measured as shipped and grown synthetically in memory:
size k adds k−1 clones of every topic, each with a new id, every keyword and
related word followed by a clone-specific nonsense word, and every phrasing's
words shuffled (plus the nonsense word). Nothing is written to disk.

Queries (the same for every size, seeded) are the shipped phrasings, most of
them lightly perturbed (a word dropped, a typo, a municipality added), 65 %;
synthetic noise (random knowledge words, made-up words, emoji), 32 %; and very
long messages (15–30 phrasings, past the router's 2 000-character limit), 3 %.
None comes from an evaluation file.

Per size: the router is built (build ms), warmed up, then N messages are routed
one at a time and timed (p50, p99, msgs/s over the whole loop). Memory is
measured in a second, separate pass so tracing does not slow the timed one:
"peak MB" is tracemalloc's peak while building the router and routing the
first 300 queries; "RSS MB" is the process's resident size (psutil) after the
timed pass, with that size's router alive.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from common import fail, load_kb, table

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
WARMUP = 200
TRACED_QUERIES = 300
AIMS_P99_MS = {1: 2.0, 100: 10.0}  # size -> p99 aim in ms
_CONSONANTS = "bdfgklmnprstv"
_VOWELS = "aeiouy"
_EMOJI = ("🙂", "😟", "👍", "🙏", "❤️", "😢")


def nonsense_word(rng: random.Random, syllables: int = 3) -> str:
    """A pronounceable word that is in no dictionary ("kavilo")."""
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))


def grow(kb, factor: int, seed: int = 0):  # noqa: ANN001, ANN201 - KnowledgeBase -> KnowledgeBase
    """`kb` with factor−1 perturbed clones of every topic (factor 1 returns `kb` itself)."""
    if factor <= 1:
        return kb
    rng = random.Random(seed)
    topics = dict(kb.topics)
    suffixes: set[str] = set()
    for k in range(1, factor):
        suffix = nonsense_word(rng)
        while suffix in suffixes:
            suffix = nonsense_word(rng, 4)
        suffixes.add(suffix)
        for t in kb.topics.values():
            phrasings = []
            for p in t.phrasings:
                ws = p.split()
                rng.shuffle(ws)
                phrasings.append(" ".join([*ws, suffix]))
            clone = t.model_copy(
                update={
                    "id": f"{t.id}-x{k}",
                    "name": f"{t.name} {suffix}",
                    "keywords": tuple(f"{kw} {suffix}" for kw in t.keywords),
                    "related": tuple(f"{r} {suffix}" for r in t.related),
                    "phrasings": tuple(phrasings),
                }
            )
            topics[clone.id] = clone
    return dataclasses.replace(kb, topics=topics)


KINDS = ("phrasing", "noise", "long")


def queries(kb, n: int, seed: int = 1) -> list[tuple[str, str | None]]:  # noqa: ANN001
    """N (text, profile municipality) pairs: perturbed phrasings and synthetic noise."""
    return [(text, municipality) for text, municipality, _ in labelled_queries(kb, n, seed)]


def labelled_queries(kb, n: int, seed: int = 1) -> list[tuple[str, str | None, str]]:  # noqa: ANN001
    """`queries` with the kind of each message: phrasing (65 %), noise (32 %) or long (3 %)."""
    rng = random.Random(seed)
    phrasings = [p for t in kb.topics.values() for p in t.phrasings]
    vocabulary = sorted({w.strip(".,!?:;()\"'") for t in kb.topics.values() for p in t.phrasings for w in p.split()})
    places = [m.name for m in kb.municipalities.values()]
    municipalities = [*kb.municipalities, None]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.65:  # a phrasing, mostly perturbed
            ws = rng.choice(phrasings).split()
            kind = rng.random()
            if kind < 0.3 and len(ws) > 3:
                del ws[rng.randrange(len(ws))]
            elif kind < 0.6:
                i = rng.randrange(len(ws))
                w = ws[i]
                if len(w) > 3:
                    j = rng.randrange(1, len(w) - 1)
                    ws[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swap two letters
            elif kind < 0.75:
                ws += ["i", rng.choice(places)]
            text, kind = " ".join(ws), "phrasing"
        elif r < 0.97:  # noise: knowledge words and made-up words
            length = rng.randint(1, 40)
            ws = [rng.choice(vocabulary) if rng.random() < 0.6 else nonsense_word(rng, rng.randint(1, 4))
                  for _ in range(length)]
            if rng.random() < 0.2:
                ws.append(rng.choice(_EMOJI))
            text, kind = " ".join(ws), "noise"
        else:  # a long message (past the router's 2 000-character limit)
            text, kind = " ".join(rng.choice(phrasings) for _ in range(rng.randint(15, 30))), "long"
        out.append((text, rng.choice(municipalities), kind))
    return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def measure(kb, factor: int, labelled: list[tuple[str, str | None, str]]) -> dict:  # noqa: ANN001
    import psutil

    from bot.router import Router

    qs = [(text, municipality) for text, municipality, _ in labelled]
    grown = grow(kb, factor)
    gc.collect()
    t0 = time.perf_counter()
    router = Router(grown)
    build_ms = (time.perf_counter() - t0) * 1000
    for text, municipality in qs[: min(WARMUP, len(qs))]:
        router.route(text, municipality, NOW)
    times = []
    clock = time.perf_counter
    start = clock()
    for text, municipality in qs:
        t = clock()
        router.route(text, municipality, NOW)
        times.append(clock() - t)
    total = clock() - start
    rss_mb = psutil.Process().memory_info().rss / 2**20
    del router
    gc.collect()

    tracemalloc.start()
    traced = Router(grown)
    for text, municipality in qs[:TRACED_QUERIES]:
        traced.route(text, municipality, NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced

    by_kind = {k: sorted(t for t, (_, _, kind) in zip(times, labelled, strict=True) if kind == k) for k in KINDS}
    times.sort()
    return {
        "size": factor,
        "topics": len(grown.topics),
        "phrasings": sum(len(t.phrasings) for t in grown.topics.values()),
        "build_ms": round(build_ms, 1),
        "p50_ms": round(percentile(times, 0.50) * 1000, 3),
        "p99_ms": round(percentile(times, 0.99) * 1000, 3),
        "max_ms": round(times[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(times) * 1000, 3),
        "msgs_per_s": round(len(qs) / total, 1),
        "peak_mb": round(peak / 2**20, 1),
        "rss_mb": round(rss_mb, 1),
        "p99_ms_by_kind": {k: round(percentile(v, 0.99) * 1000, 3) for k, v in by_kind.items() if v},
    }


def profile(kb, factor: int, qs: list[tuple[str, str | None]], top: int = 20) -> str:  # noqa: ANN001
    """cProfile of routing the queries at one size: the functions where the time goes."""
    from bot.router import Router

    router = Router(grow(kb, factor))
    for text, municipality in qs[:WARMUP]:
        router.route(text, municipality, NOW)
    prof = cProfile.Profile()
    prof.enable()
    for text, municipality in qs:
        router.route(text, municipality, NOW)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, ncalls, tt, ct, _) in sorted(
        stats.stats.items(), key=lambda kv: -kv[1][2]  # type: ignore[attr-defined]
    )[:top]:
        where = filename.split("/bot/")[-1] if "/bot/" in filename else filename.rsplit("/", 1)[-1]
        rows.append([f"{where}:{line}({name})", ncalls, f"{tt * 1000:.0f}", f"{100 * tt / total:.1f}%",
                     f"{100 * ct / total:.1f}%"])
    out = io.StringIO()
    out.write(f"cProfile, size {factor}×, {len(qs)} messages, {total:.2f} s profiled\n\n")
    out.write(table(["function", "calls", "own ms", "own share", "cumulative share"], rows))
    return out.getvalue()


def size_label(size: int) -> str:
    return "1× (shipped)" if size == 1 else f"{size}×"


def render(results: list[dict], n: int) -> str:
    rows = [
        [
            size_label(r["size"]),
            r["topics"],
            r["phrasings"],
            f"{r['build_ms']:.1f}",
            f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.3f}",
            f"{r['msgs_per_s']:.0f}",
            f"{r['peak_mb']:.1f}",
            f"{r['rss_mb']:.1f}",
        ]
        for r in results
    ]
    lines = [
        f"Router.route() latency, {n} messages per size (after {min(WARMUP, n)} warm-up), one at a time, "
        f"Python {sys.version.split()[0]}",
        "",
        table(["size", "topics", "phrasings", "build ms", "p50 ms", "p99 ms", "msgs/s", "peak MB", "RSS MB"], rows),
        "",
        f"peak MB: tracemalloc peak while building the router and routing {TRACED_QUERIES} messages; "
        "RSS MB: the whole process after the timed pass.",
        "Messages: 65 % phrasings (mostly perturbed), 32 % noise, 3 % long (≈2 000 characters).",
        "p99 ms by kind of message — "
        + "; ".join(
            f"{size_label(r['size'])}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["p99_ms_by_kind"].items())
            for r in results
        ),
    ]
    for r in results:
        aim = AIMS_P99_MS.get(r["size"])
        if aim is not None:
            verdict = "met" if r["p99_ms"] <= aim else "NOT met"
            lines.append(f"Aim p99 ≤ {aim:g} ms at {r['size']}×: {r['p99_ms']:.3f} ms — {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/latency.py")
    parser.add_argument("--n", type=int, default=3000, help="messages routed per size (default 3000)")
    parser.add_argument("--sizes", default="1,10,100", help="growth factors, comma-separated (default 1,10,100)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=int, metavar="SIZE", help="instead: cProfile routing at this size")
    args = parser.parse_args(argv)
    if args.n < 1:
        fail("--n must be at least 1")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        fail(f"--sizes takes whole numbers separated by commas, got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        fail("--sizes needs growth factors of at least 1")

    kb = load_kb()
    labelled = labelled_queries(kb, args.n)
    if args.profile:
        print(profile(kb, args.profile, [(text, municipality) for text, municipality, _ in labelled]))
        return 0
    results = [measure(kb, size, labelled) for size in sizes]
    if args.json:
        print(json.dumps({"n": args.n, "sizes": results}, indent=2))
    else:
        print(render(results, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
