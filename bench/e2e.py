"""End-to-end throughput: `lotsen kor` against a bare python-telegram-bot echo bot, over loopback HTTP.

    python bench/e2e.py [--n 300] [--users 20] [--repeat 3] [--json]

Both bots run as subprocesses polling the fake Telegram Bot API of the tests
(tests/fakebotapi.py) on 127.0.0.1, one fresh fake server each, in one run:

- echo               a bare PTB Application: one MessageHandler that replies
                     with the text (run_polling, PTB's defaults);
- echo+ratelimiter   the same echo bot with PTB's AIORateLimiter, which
                     `lotsen kor` also uses (Telegram allows about 30 messages
                     per second per bot, and the limiter keeps to that);
- lotsen             `python -m bot run` with a temporary database — durable
                     inbox, routing (with the sentence encoder unless
                     LOTSEN_ENCODER=av; its embedding cache is the usual one,
                     LOTSEN_CACHE_DIR or ~/.cache/lotsen), rendering, logging
                     and all;
- lotsen-unlimited   the same, with the rate limiter's 30-per-second cap
                     switched off (patched in the subprocess, not in bot/):
                     a diagnostic row showing what Lotsen's own code costs;
- lotsen-words       `python -m bot run` with LOTSEN_ENCODER=av (words only):
                     a diagnostic row showing what the sentence encoder costs.

M simulated users share the same N distinct messages (shipped phrasings,
perturbed, and synthetic noise — see bench/latency.py; never an evaluation
file; no text is sent twice). Each user sends a message and waits for the
reply before sending the next, as a person would. Updates per second = N /
(time from the first message queued until every user has all its replies).
Every wait has a timeout. Each bot is run --repeat times (a fresh process
and fake server each time) and the medians are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import PROJECT_ROOT, fail, load_kb, table
from latency import median_of, percentile, queries

STARTUP_TIMEOUT = 180.0  # seconds until the bot polls (a cold embedding cache takes a minute or more)
REPLY_TIMEOUT = 30.0  # seconds a user waits for one reply
STOP_TIMEOUT = 15.0  # seconds a bot gets to shut down after SIGTERM
MAX_TEXT = 4000  # Telegram's own limit for a message is 4096 characters
RATIO_AIM = 0.7
QUESTIONS_AIM = 20.0  # distinct questions per second that `lotsen kor` answers end to end
BOTS = ("echo", "echo+ratelimiter", "lotsen", "lotsen-unlimited", "lotsen-words")
# `lotsen kor` with AIORateLimiter's overall cap removed (overall_max_rate=0 disables it).
_UNLIMITED_LOTSEN = """
import sys
from telegram.ext import AIORateLimiter
import bot.telegram.app as app

class Unlimited(app.RetryingRateLimiter):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        AIORateLimiter.__init__(self, overall_max_rate=0, group_max_rate=0, max_retries=0)

app.RetryingRateLimiter = Unlimited
from bot.cli.main import main
sys.exit(main(["run"]))
"""


def fake_api_module():  # noqa: ANN201 - the tests' fake Bot API module, or None when it is missing
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    try:
        import fakebotapi
    except ImportError:
        return None
    finally:
        sys.path.remove(str(PROJECT_ROOT / "tests"))
    return fakebotapi


# -- the echo bot (runs in its own process: `bench/e2e.py --echo-bot URL`) ---------------


def run_echo_bot(base_url: str, token: str, rate_limited: bool) -> int:
    """A bare PTB bot that answers every text with the same text, until SIGTERM."""
    from telegram import Update
    from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Replies with the text."""
        message = update.effective_message
        if message is not None and message.text is not None:
            await message.reply_text(message.text)

    builder = Application.builder().token(token).base_url(base_url)
    if rate_limited:
        builder = builder.rate_limiter(AIORateLimiter())
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.run_polling(poll_interval=0.0, timeout=10)
    return 0


# -- the driver -----------------------------------------------------------------------------


class BenchError(Exception):
    """A bot did not start, answer or stop in time."""


def bot_command(kind: str, base_url: str, token: str) -> list[str]:
    if kind in ("lotsen", "lotsen-words"):
        return [sys.executable, "-m", "bot", "run"]
    if kind == "lotsen-unlimited":
        return [sys.executable, "-c", _UNLIMITED_LOTSEN]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--echo-bot", base_url, "--token", token]
    return [*cmd, "--rate-limited"] if kind == "echo+ratelimiter" else cmd


async def drive(kind: str, texts: list[str], users: int, fakebotapi) -> dict:  # noqa: ANN001
    """Starts one bot against a fresh fake server, runs the users through it, stops it."""
    import psutil

    api = fakebotapi.FakeBotAPI()
    await api.start()
    tmp = tempfile.TemporaryDirectory(prefix="lotsen-e2e-")
    log_path = Path(tmp.name) / "bot.log"
    env = {
        **os.environ,
        "LOTSEN_TELEGRAM_TOKEN": api.token,
        "LOTSEN_BOT_API_URL": api.base_url,
        "LOTSEN_DB": str(Path(tmp.name) / "lotsen.sqlite3"),
        "LOTSEN_SECRET": secrets.token_hex(16),
        "LOTSEN_KONSULTATION": "av",  # no consultation destination here; the benchmark asks questions only
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("LOTSEN_ADMINS", "LOTSEN_CURATOR_CHAT", "LOTSEN_WEBHOOK_SECRET"):
        env.pop(name, None)
    if kind == "lotsen-words":
        env["LOTSEN_ENCODER"] = "av"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        bot_command(kind, api.base_url, api.token), cwd=PROJECT_ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    ps = psutil.Process(proc.pid)
    peak_rss = engine_rss = 0
    engines: set[int] = set()  # pids of the sentence encoder's engine processes (bot/core/encoder.py) seen
    sampling = True

    async def sample_rss() -> None:
        nonlocal peak_rss, engine_rss
        while sampling:
            with contextlib.suppress(psutil.Error):
                peak_rss = max(peak_rss, ps.memory_info().rss)
                children = [c for c in ps.children() if "bot.core.encoder" in c.cmdline()]
                engines.update(c.pid for c in children)
                engine_rss = max(engine_rss, sum(c.memory_info().rss for c in children))
            await asyncio.sleep(0.05)

    def log_tail() -> str:
        log.flush()
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return "\n    ".join(lines[-15:]) or "(no output)"

    sampler = asyncio.create_task(sample_rss())
    try:
        polling = lambda: proc.poll() is not None or any(m == "getUpdates" for m, _ in api.calls)  # noqa: E731
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not polling():
            if time.monotonic() > deadline:
                raise BenchError(f"{kind}: no getUpdates within {STARTUP_TIMEOUT:.0f} s; log:\n    {log_tail()}")
            await asyncio.sleep(0.05)
        if proc.poll() is not None:
            raise BenchError(f"{kind} exited with code {proc.returncode} before polling; log:\n    {log_tail()}")
        rss_idle = ps.memory_info().rss

        people = [api.user(900_000 + i, f"Person{i}") for i in range(users)]
        latencies: list[float] = []

        async def person(user, mine: list[str]) -> None:  # noqa: ANN001
            for text in mine:
                sent = time.perf_counter()
                await user.send(text)
                try:
                    await user.next_message(timeout=REPLY_TIMEOUT)
                except AssertionError:
                    raise BenchError(
                        f"{kind}: no reply within {REPLY_TIMEOUT:.0f} s (chat {user.chat_id}); log:\n    {log_tail()}"
                    ) from None
                latencies.append(time.perf_counter() - sent)

        start = time.perf_counter()
        await asyncio.gather(*(person(u, texts[i::users]) for i, u in enumerate(people)))
        elapsed = time.perf_counter() - start
        rss_end = ps.memory_info().rss
    finally:
        sampling = False
        await sampler
        await asyncio.get_running_loop().run_in_executor(None, stop, proc)
        await api.stop()
        log.close()
        tmp.cleanup()
    latencies.sort()
    return {
        "bot": kind,
        "messages": len(texts),
        "users": users,
        "seconds": round(elapsed, 2),
        "updates_per_s": round(len(texts) / elapsed, 1),
        "reply_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "reply_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "rss_idle_mb": round(rss_idle / 2**20, 1),
        "rss_end_mb": round(rss_end / 2**20, 1),
        "rss_peak_mb": round(peak_rss / 2**20, 1),
        "engine_processes": len(engines),
        "engine_rss_peak_mb": round(engine_rss / 2**20, 1),
        "unexpected_methods": sorted(set(api.unexpected)),
    }


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the bot has not stopped within STOP_TIMEOUT."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def distinct_texts(kb, n: int) -> list[str]:  # noqa: ANN001
    """N different messages (the seeded queries of bench/latency.py, repeats skipped)."""
    seen: dict[str, None] = {}
    drawn = n
    while len(seen) < n and drawn <= 50 * n:
        seen = dict.fromkeys(text[:MAX_TEXT] for text, _ in queries(kb, drawn, seed=7))
        drawn *= 2
    return list(seen)[:n]


async def run(n: int, users: int, bots: Sequence[str], fakebotapi, repeat: int = 1) -> list[dict]:  # noqa: ANN001
    """Every bot `repeat` times on the same messages; the median of each figure per bot."""
    texts = distinct_texts(load_kb(), n)
    results = []
    for kind in bots:
        runs = [await drive(kind, texts, users, fakebotapi) for _ in range(repeat)]
        median = median_of(runs)
        median.update(messages=len(texts), users=users, runs=repeat)
        median["engine_processes"] = max(r["engine_processes"] for r in runs)
        median["unexpected_methods"] = sorted({m for r in runs for m in r["unexpected_methods"]})
        results.append(median)
    return results


def render(results: list[dict]) -> str:
    rows = [
        [r["bot"], r["messages"], r["users"], f"{r['seconds']:.2f}", f"{r['updates_per_s']:.1f}",
         f"{r['reply_p50_ms']:.1f}", f"{r['reply_p95_ms']:.1f}", f"{r['rss_idle_mb']:.1f}", f"{r['rss_peak_mb']:.1f}",
         f"{r['engine_rss_peak_mb']:.1f}" if r["engine_processes"] else "–"]
        for r in results
    ]
    by = {r["bot"]: r for r in results}
    runs = results[0]["runs"] if results else 1
    lines = [
        "End-to-end over loopback HTTP (fake Bot API, long polling), each bot in its own process: "
        + (f"medians of {runs} runs" if runs > 1 else "1 run"),
        "",
        table(["bot", "messages", "users", "seconds", "updates/s", "reply p50 ms", "reply p95 ms",
               "RSS idle MB", "RSS peak MB", "encoder RSS MB"], rows),
        "",
        "updates/s: distinct messages ÷ time from the first message queued until every user has all its replies;",
        "each user waits for the reply before sending the next message. RSS: the bot process (psutil);",
        "encoder RSS: its sentence-encoder processes together (bot/core/encoder.py), – when the bot ran none.",
        *encoder_notes(by),
    ]
    if "lotsen" in by:
        qps = by["lotsen"]["updates_per_s"]
        lines.append(f"lotsen kor answers {qps:.1f} distinct questions/s end to end "
                     f"(aim ≥ {QUESTIONS_AIM:g}: {'met' if qps >= QUESTIONS_AIM else 'NOT met'})")
    if "lotsen" in by and "echo" in by:
        ratio = by["lotsen"]["updates_per_s"] / by["echo"]["updates_per_s"]
        lines.append(
            f"Ratio lotsen / bare echo: {ratio:.2f} (aim ≥ {RATIO_AIM}: {'met' if ratio >= RATIO_AIM else 'NOT met'})"
        )
    if "lotsen" in by and "echo+ratelimiter" in by:
        ratio = by["lotsen"]["updates_per_s"] / by["echo+ratelimiter"]["updates_per_s"]
        lines.append(f"Ratio lotsen / echo with the same rate limiter: {ratio:.2f}")
    if "lotsen-unlimited" in by and "echo" in by:
        ratio = by["lotsen-unlimited"]["updates_per_s"] / by["echo"]["updates_per_s"]
        lines.append(f"Ratio lotsen-unlimited / bare echo (Lotsen's own cost, no rate cap): {ratio:.2f}")
    if "lotsen" in by and "lotsen-words" in by:
        ratio = by["lotsen"]["updates_per_s"] / by["lotsen-words"]["updates_per_s"]
        lines.append(f"Ratio lotsen / lotsen-words (what the sentence encoder costs end to end): {ratio:.2f}")
    for r in results:
        if r["unexpected_methods"]:
            lines.append(f"Note: {r['bot']} called Bot API methods the fake does not know: {r['unexpected_methods']}")
    return "\n".join(lines)


def encoder_notes(by: dict[str, dict]) -> list[str]:
    """Whether the Lotsen rows routed with the sentence encoder, and whether its engines had to restart."""
    from bot.core.encoder import engine_processes

    notes = []
    for name in ("lotsen", "lotsen-unlimited"):
        if name not in by:
            continue
        engines, kept = by[name]["engine_processes"], engine_processes()
        if engines == 0:
            notes.append(f"Note: {name} ran no sentence encoder (LOTSEN_ENCODER=av, or the engine never started):"
                         " it routed on words alone.")
        elif engines > kept:
            notes.append(f"Warning: {name}'s sentence encoder was restarted ({engines} engine processes in a run,"
                         f" {kept} kept at a time):"
                         " some messages were routed on words alone.")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/e2e.py")
    parser.add_argument("--n", type=int, default=300, help="messages in all (default 300)")
    parser.add_argument("--users", type=int, default=20, help="simulated users writing at once (default 20)")
    parser.add_argument("--bots", default=",".join(BOTS), help=f"which bots, comma-separated (default {','.join(BOTS)})")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every bot; medians are shown (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--echo-bot", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--rate-limited", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_bot:
        return run_echo_bot(args.echo_bot, args.token, args.rate_limited)
    if args.n < 1 or args.users < 1 or args.repeat < 1:
        fail("--n, --users and --repeat must be at least 1")
    bots = [b.strip() for b in args.bots.split(",") if b.strip()]
    unknown = [b for b in bots if b not in BOTS]
    if unknown or not bots:
        fail(f"--bots takes some of {', '.join(BOTS)}, got {args.bots!r}")
    fakebotapi = fake_api_module()
    if fakebotapi is None:
        fail("tests/fakebotapi.py (the fake Bot API) cannot be imported — install the test extra: pip install -e '.[test]'")
    try:
        results = asyncio.run(run(args.n, min(args.users, args.n), bots, fakebotapi, args.repeat))
    except BenchError as exc:
        fail(str(exc), code=1)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
