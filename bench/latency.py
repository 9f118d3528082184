"""Routing latency: `Router.route()` p50/p99 and messages per second, with the sentence encoder and as the knowledge base grows.

    python bench/latency.py [--n 3000] [--n-encoder 400] [--sizes 1,10,100] [--repeat 3] [--json] [--profile SIZE]

With the encoder (bot/core/encoder.py), on the shipped knowledge base, the router
is built three ways, each with a new engine process (--phases chooses): "cold",
from a copy of knowledge/ without its shipped vectors and an empty embedding
cache (every phrasing, off-topic cue and risk exemplar is encoded: a changed
model, or a knowledge base nobody validated); "shipped", from knowledge/ with its
vectors and an empty cache (a fresh install); "warm", from the cache the cold
build filled (a restart). "first route" is the first message after the last
build, which starts the engine. Then --n-encoder messages are routed one at a
time and timed per kind of message. LOTSEN_ENCODER=av skips these measurements.

Words only (no encoder), the knowledge base as shipped and grown synthetically
in memory: size k adds k−1 clones of every topic, each with a new id, every
keyword and related word followed by a clone-specific nonsense word, and every
phrasing's words shuffled (plus the nonsense word). Nothing is written to disk.
The grown sizes are measured without the encoder: embedding 100 times the
knowledge base would take most of an hour on this machine.

Queries (the same for every size, seeded) are the shipped phrasings, most of
them lightly perturbed (a word dropped, a typo, a municipality added), 65 %;
synthetic noise (random knowledge words, made-up words, emoji), 32 %; and very
long messages (15–30 phrasings, past the router's 2 000-character limit), 3 %.
None comes from an evaluation file.

Every timing is measured --repeat times and the median is reported (the
machine may be shared with other work). Per size: the router is built (build
ms), warmed up, then N messages are routed one at a time and timed (p50, p99,
msgs/s over the whole loop). Memory is measured once, in a separate pass so
tracing does not slow the timed one: "peak MB" is tracemalloc's peak while
building the router and routing the first 300 queries; "RSS MB" is the
process's resident size (psutil) after the first timed pass, with that size's
router alive.
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
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from common import fail, load_kb, table

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
WARMUP = 200
WARMUP_ENCODER = 20
TRACED_QUERIES = 300
AIMS_P99_MS = {1: 2.0, 100: 10.0}  # size -> p99 aim in ms, words only
AIM_ENCODER_P99_MS = 60.0  # route() with the encoder, shipped knowledge base
AIM_WARM_LOAD_MS = 3000.0  # knowledge base loaded and router built with a warm embedding cache
FIRST_MESSAGE = "Jag är orolig för en elev som inte kommer till skolan"  # invented, routed right after the warm build
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


def timed_pass(router, labelled: Sequence[tuple[str, str | None, str]], warmup: int) -> tuple[list[float], float]:  # noqa: ANN001
    """Routes `warmup` messages untimed, then every message one at a time: per-message seconds and the total."""
    for text, municipality, _ in labelled[: min(warmup, len(labelled))]:
        router.route(text, municipality, NOW)
    times = []
    clock = time.perf_counter
    start = clock()
    for text, municipality, _ in labelled:
        t = clock()
        router.route(text, municipality, NOW)
        times.append(clock() - t)
    return times, clock() - start


def timing(times: list[float], total: float, labelled: Sequence[tuple[str, str | None, str]]) -> dict:
    """The figures of one timed pass: "all" messages (msgs/s over the whole loop) and each kind."""
    out = {"all": _figures(times, total)}
    for kind in KINDS:
        mine = [t for t, (_, _, k) in zip(times, labelled, strict=True) if k == kind]
        if mine:
            out[kind] = _figures(mine, sum(mine))
    return out


def _figures(times: list[float], seconds: float) -> dict:
    ordered = sorted(times)
    return {
        "messages": len(ordered),
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": ordered[-1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "msgs_per_s": len(ordered) / seconds if seconds > 0 else 0.0,
    }


def median_of(runs: list[dict]) -> dict:
    """Every number the runs have in common replaced by its median over the runs (nested dicts alike)."""
    out: dict = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = median_of([r[key] for r in runs])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(statistics.median(r[key] for r in runs), 3)
        else:
            out[key] = value
    return out


def measure(kb, factor: int, labelled: list[tuple[str, str | None, str]], repeat: int = 1) -> dict:  # noqa: ANN001
    """Words only: build time and routing latency at one size (medians of `repeat` runs), and memory once."""
    import psutil

    from bot.core.router import Router

    grown = grow(kb, factor)
    runs = []
    rss_mb = 0.0
    for i in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        router = Router(grown)
        build_ms = (time.perf_counter() - t0) * 1000
        times, total = timed_pass(router, labelled, WARMUP)
        if i == 0:
            rss_mb = psutil.Process().memory_info().rss / 2**20
        runs.append({"build_ms": build_ms, **timing(times, total, labelled)})
        del router
        gc.collect()
    med = median_of(runs)
    return {
        "size": factor,
        "topics": len(grown.topics),
        "phrasings": sum(len(t.phrasings) for t in grown.topics.values()),
        "runs": repeat,
        "build_ms": round(med["build_ms"], 1),
        **{key: round(med["all"][key], 3) for key in ("p50_ms", "p99_ms", "max_ms", "mean_ms")},
        "msgs_per_s": round(med["all"]["msgs_per_s"], 1),
        "peak_mb": round(traced_peak(grown, labelled) / 2**20, 1),
        "rss_mb": round(rss_mb, 1),
        "p99_ms_by_kind": {k: round(med[k]["p99_ms"], 3) for k in KINDS if k in med},
    }


def traced_peak(kb, labelled: Sequence[tuple[str, str | None, str]]) -> int:  # noqa: ANN001
    """tracemalloc's peak (bytes) while building a words-only router and routing the first messages."""
    from bot.core.router import Router

    tracemalloc.start()
    traced = Router(kb)
    for text, municipality, _ in labelled[:TRACED_QUERIES]:
        traced.route(text, municipality, NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# -- with the sentence encoder ------------------------------------------------------


def encoder_texts(kb) -> int:  # noqa: ANN001
    """About how many texts the router's semantic index encodes (names, phrasings, cues, risk exemplars)."""
    topics = sum(1 + len(t.phrasings) for t in kb.topics.values())
    offtopic = sum(len(o.split()) >= 3 for o in kb.smalltalk.offtopic)
    return topics + offtopic + sum(len(v) for v in kb.risk.acute.values()) + len(kb.risk.calm)


PHASES = ("cold", "shipped", "warm")


def measure_encoder(labelled: list[tuple[str, str | None, str]], repeat: int, phases: Sequence[str] = PHASES) -> dict:
    """With the encoder, shipped knowledge base: the builds of `phases`, first route, routing latency (medians)."""
    runs = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="lotsen-latency-") as tmp:
        bare = Path(tmp) / "knowledge"  # the knowledge base without its shipped vectors
        shutil.copytree(load_kb().source, bare, ignore=shutil.ignore_patterns("vectors"))
        for i in range(repeat):
            folder = Path(tmp) / f"run{i}"  # a new, empty embedding cache for each run
            run: dict = {}
            for phase in phases:
                knowledge = bare if phase == "cold" else None
                cache = Path(tmp) / f"empty{i}" if phase == "shipped" else folder
                last = phase == phases[-1]
                run[phase], failed = _encoder_phase(cache, knowledge, labelled if last else None, run)
                failures += failed
            runs.append(run)
    med = median_of(runs)
    return {"runs": repeat, "messages": len(labelled), "texts": encoder_texts(load_kb()),
            "encoder_failures": failures, "phases": list(phases), **med}


def _encoder_phase(folder: Path, knowledge: Path | None, labelled: list[tuple[str, str | None, str]] | None,
                   run: dict) -> tuple[dict, int]:
    """Loads the knowledge base (from `knowledge` if given) and builds the router with a new engine
    process and a cache in `folder`.

    With `labelled` (the last phase) it also times the first route and then routes every message
    (into `run`). Returns the load figures and how often the engine failed.
    """
    from bot.core.encoder import Encoder
    from bot.core.router import Router
    from bot.core.vectors import EmbeddingCache

    clock = time.perf_counter
    encoder = Encoder()
    try:
        t0 = clock()
        kb = load_kb(knowledge)
        t1 = clock()
        router = Router(kb, encoder=encoder, cache=EmbeddingCache(folder))
        t2 = clock()
        if router.semantic is None:
            fail("the sentence encoder did not answer while the router was built (bot/core/encoder.py)", code=1)
        figures = {"load_ms": (t1 - t0) * 1000, "build_ms": (t2 - t1) * 1000, "total_ms": (t2 - t0) * 1000}
        if labelled is not None:
            t = clock()
            router.route(FIRST_MESSAGE, None, NOW)
            run["first_route_ms"] = (clock() - t) * 1000
            times, total = timed_pass(router, labelled, WARMUP_ENCODER)
            run["routing"] = timing(times, total, labelled)
        return figures, encoder.failures
    finally:
        encoder.close()


def profile(kb, factor: int, qs: list[tuple[str, str | None]], top: int = 20) -> str:  # noqa: ANN001
    """cProfile of routing the queries at one size: the functions where the time goes."""
    from bot.core.router import Router

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


def medians(runs: int) -> str:
    return f"medians of {runs} runs" if runs > 1 else "1 run"


def size_label(size: int) -> str:
    return "1× (shipped)" if size == 1 else f"{size}×"


def render(results: list[dict], n: int, encoder: dict | None = None, encoder_note: str = "") -> str:
    lines = [*(render_encoder(encoder) if encoder else [encoder_note, ""]), *render_words(results, n, encoder)]
    return "\n".join(lines)


def render_encoder(e: dict) -> list[str]:
    """The tables measured with the sentence encoder."""
    kinds = [k for k in ("all", *KINDS) if k in e["routing"]]
    rows = [
        [k, int(e["routing"][k]["messages"]), f"{e['routing'][k]['p50_ms']:.1f}", f"{e['routing'][k]['p99_ms']:.1f}",
         f"{e['routing'][k]['max_ms']:.1f}", f"{e['routing'][k]['msgs_per_s']:.1f}"]
        for k in kinds
    ]
    loads = [
        [phase, f"{e[phase]['load_ms']:.0f}", f"{e[phase]['build_ms']:.0f}", f"{e[phase]['total_ms']:.0f}"]
        for phase in e["phases"]
    ]
    p99 = e["routing"]["all"]["p99_ms"]
    warm = min(e[phase]["total_ms"] for phase in e["phases"] if phase != "cold") if e["phases"] != ["cold"] else None
    lines = [
        f"Router.route() with the sentence encoder, shipped knowledge base: {medians(e['runs'])}, "
        f"{e['messages']} messages each (after {min(WARMUP_ENCODER, e['messages'])} warm-up), one at a time, "
        f"Python {sys.version.split()[0]}",
        "",
        table(["message kind", "messages", "p50 ms", "p99 ms", "max ms", "msgs/s"], rows),
        "",
        f"Loading the knowledge base with the encoder: {medians(e['runs'])} "
        f"(about {e['texts']} texts in the semantic index)",
        "",
        table(["vectors", "load ms", "router build ms", "total ms"], loads),
        "",
        "cold: no shipped vectors and an empty cache, every text encoded; shipped: knowledge/vectors/ and an empty",
        "cache (a fresh install); warm: the cache the cold build filled, with a new engine process (a restart).",
        "load: reading and checking knowledge/; router build: the indexes and the embeddings.",
        f"First message after the last build (starts the engine process): {e['first_route_ms']:.0f} ms.",
        f"Aim route() p99 ≤ {AIM_ENCODER_P99_MS:g} ms with the encoder: {p99:.1f} ms — "
        f"{'met' if p99 <= AIM_ENCODER_P99_MS else 'NOT met'}",
    ]
    if warm is not None:
        lines.append(f"Aim knowledge base loaded in ≤ {AIM_WARM_LOAD_MS / 1000:g} s with shipped vectors or a warm "
                     f"cache: {warm / 1000:.2f} s — {'met' if warm <= AIM_WARM_LOAD_MS else 'NOT met'}")
    if e["encoder_failures"]:
        lines.append(f"Warning: the engine failed {e['encoder_failures']} time(s); messages of that time were"
                     " routed on words alone and are timed as such.")
    return [*lines, ""]


def render_words(results: list[dict], n: int, encoder: dict | None) -> list[str]:
    """The table measured on words alone, as the knowledge base grows."""
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
    runs = results[0]["runs"] if results else 1
    lines = [
        f"Router.route() on words alone (LOTSEN_ENCODER=av) as the knowledge base grows: {medians(runs)}, "
        f"{n} messages per size (after {min(WARMUP, n)} warm-up), one at a time",
        "",
        table(["size", "topics", "phrasings", "build ms", "p50 ms", "p99 ms", "msgs/s", "peak MB", "RSS MB"], rows),
        "",
        f"peak MB: tracemalloc peak while building the router and routing {TRACED_QUERIES} messages; "
        "RSS MB: the whole process after the first timed pass.",
        "Messages: 65 % phrasings (mostly perturbed), 32 % noise, 3 % long (≈2 000 characters).",
        "p99 ms by kind of message — "
        + "; ".join(
            f"{size_label(r['size'])}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["p99_ms_by_kind"].items())
            for r in results
        ),
        _growth_note(results, encoder),
    ]
    for r in results:
        aim = AIMS_P99_MS.get(r["size"])
        if aim is not None:
            verdict = "met" if r["p99_ms"] <= aim else "NOT met"
            lines.append(f"Aim p99 ≤ {aim:g} ms at {r['size']}× (words only): {r['p99_ms']:.3f} ms — {verdict}")
    return lines


def _growth_note(results: list[dict], encoder: dict | None) -> str:
    """Why the grown sizes are measured without the encoder, with the cold embedding time they would take."""
    largest = max((r["size"] for r in results), default=1)
    note = "Grown sizes are measured on words only: the encoder would first have to embed every cloned text"
    if encoder and largest > 1 and "cold" in encoder:
        minutes = encoder["cold"]["build_ms"] / 1000 * largest / 60
        note += f" — about {minutes:.0f} min with a cold cache at {largest}× (the cold build above × {largest})"
    return note + "."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/latency.py")
    parser.add_argument("--n", type=int, default=3000, help="messages routed per size on words alone (default 3000)")
    parser.add_argument("--n-encoder", type=int, default=400,
                        help="messages routed with the encoder, shipped knowledge base (default 400)")
    parser.add_argument("--sizes", default="1,10,100", help="growth factors, comma-separated (default 1,10,100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every measurement; medians are shown (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=int, metavar="SIZE", help="instead: cProfile routing at this size")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"builds with the encoder, in order, comma-separated (default {','.join(PHASES)})")
    args = parser.parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - set(PHASES):
        fail(f"--phases takes some of {', '.join(PHASES)}, got {args.phases!r}")
    if args.n < 1 or args.n_encoder < 1 or args.repeat < 1:
        fail("--n, --n-encoder and --repeat must be at least 1")
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
    encoder, note = run_encoder(kb, args.n_encoder, args.repeat, phases)
    results = [measure(kb, size, labelled, args.repeat) for size in sizes]
    if args.json:
        print(json.dumps({"n": args.n, "repeat": args.repeat, "encoder": encoder, "sizes": results}, indent=2))
    else:
        print(render(results, args.n, encoder, note))
    return 0


def run_encoder(kb, n: int, repeat: int, phases: Sequence[str] = PHASES) -> tuple[dict | None, str]:  # noqa: ANN001
    """The encoder's figures, or None and why they were skipped (LOTSEN_ENCODER=av)."""
    from bot.config import Settings

    if not Settings.from_env().encoder:
        return None, "With the sentence encoder: skipped (LOTSEN_ENCODER=av)."
    return measure_encoder(labelled_queries(kb, n, seed=2), repeat, phases), ""


if __name__ == "__main__":
    sys.exit(main())
