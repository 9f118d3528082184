"""The benchmarks in bench/ run and print their tables (smoke tests on tiny inputs, no timings asserted).

The real figures come from running the scripts by hand (see the README's
"Performance" section); these tests only guard that each script still works,
and none of them needs ../shared/eval.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds per script; each finishes in well under 20 on a laptop

# Invented for this test (not taken from any evaluation set): one case per kind.
TINY_EVAL = """\
- id: t1
  text: "En pojke i femman har knappt varit i skolan sedan höstlovet och sitter hemma med datorn. Hur går vi vidare?"
  kommun: katrineholm
  expect: {topic: skolfranvaro, municipality: katrineholm, urgent: false}
- id: t2
  text: "Eleven berättade nyss att hon skär sig i armarna och inte vill leva längre."
  kommun: trosa
  expect: {topic: sjalvmord-sjalvskada, municipality: trosa, urgent: true}
- id: t3
  text: "Vi tror att en flicka i tvåan kan ha ADHD, hon tappar fokus hela tiden. Vi jobbar i Gnesta."
  kommun: null
  expect: {topic: npf, municipality: gnesta, urgent: false}
- id: t4
  text: "Vad blir det för mat i matsalen på fredag?"
  kommun: flen
  expect: {topic: null, municipality: flen, urgent: false}
- id: t5
  text: "Två elever i sjuan verkar sälja knark på rasterna."
  kommun: eskilstuna
  expect: {topic: [missbruk, kriminalitet], municipality: eskilstuna, urgent: false}
- id: t6
  text: "Hur kallar man till en samordnad individuell plan när både BUP och soc är inblandade?"
  kommun: strangnas
  expect: {topic: sip, municipality: strangnas, urgent: false}
"""


def needs_bench_extras(*modules: str) -> None:
    """Skips unless the bench extras are installed: `make test` installs only the test extras, `make bench` adds them."""
    for name in modules:
        pytest.importorskip(name, reason=f"{name} is a bench extra: `make bench` or pip install -e '.[bench]'")


def bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip


def table_rows(output: str) -> dict[str, list[str]]:
    """First cell -> the row's cells, for every row of the printed table (header included)."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("|") and not line.startswith("|:") and not line.startswith("|-"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


@pytest.fixture
def tiny_eval(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_EVAL, encoding="utf-8")
    return path


def test_routing_prints_every_router_against_the_same_metrics(tiny_eval: Path) -> None:
    """bench/routing.py prints one row per router, the six metric columns, the footnote and the margin."""
    needs_bench_extras("rank_bm25", "sklearn")
    result = bench("routing.py", str(tiny_eval))
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["router"] == [
        "router", "topic@1", "off-topic decline", "false decline", "urgent recall", "urgent precision", "municipality",
    ]  # fmt: skip
    for name in ("lotsen", "rapidfuzz", "bm25", "tfidf-linear", "tfidf-cv-ceiling"):
        assert name in rows, result.stdout
        assert all(0.0 <= float(v) <= 1.0 for v in rows[name][1:]), rows[name]
    assert "6 cases (5 in scope, 1 off-topic, 1 urgent)" in result.stdout
    assert "profile municipality" in result.stdout
    assert "Margin: lotsen topic@1 − best same-knowledge baseline" in result.stdout


def test_routing_json_has_a_report_per_router(tiny_eval: Path) -> None:
    """`--json` gives the same figures as JSON, with the margin in points."""
    needs_bench_extras("rank_bm25", "sklearn")
    result = bench("routing.py", str(tiny_eval), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["rows"]) == {"lotsen", "rapidfuzz", "bm25", "tfidf-linear", "tfidf-cv-ceiling"}
    assert data["rows"]["lotsen"]["cases"] == 6
    assert isinstance(data["margin_points"], float)


def test_routing_without_an_evaluation_file_says_what_to_pass(tmp_path: Path) -> None:
    """A missing evaluation file is one clear line on stderr and exit code 2, not a traceback."""
    result = bench("routing.py", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "evaluation file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_latency_prints_a_row_per_knowledge_base_size() -> None:
    """bench/latency.py measures the shipped knowledge base and a grown one and prints the table."""
    needs_bench_extras("psutil")
    result = bench("latency.py", "--n", "20", "--sizes", "1,2")
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["size"] == ["size", "topics", "phrasings", "build ms", "p50 ms", "p99 ms", "msgs/s", "peak MB", "RSS MB"]
    shipped, grown = rows["1× (shipped)"], rows["2×"]
    assert int(grown[1]) == 2 * int(shipped[1])  # topics doubled
    assert int(grown[2]) == 2 * int(shipped[2])  # phrasings doubled
    assert "Aim p99 ≤ 2 ms at 1×" in result.stdout


@pytest.mark.slow
def test_e2e_prints_echo_and_lotsen_throughput() -> None:
    """bench/e2e.py runs the echo bot and `lotsen run` against the fake Bot API and prints both and their ratio."""
    needs_bench_extras("psutil")
    pytest.importorskip("fakebotapi", reason="tests/fakebotapi.py (the fake Bot API) is not importable")
    result = bench("e2e.py", "--n", "6", "--users", "2")
    assert result.returncode == 0, result.stderr + result.stdout
    rows = table_rows(result.stdout)
    assert rows["bot"][:5] == ["bot", "messages", "users", "seconds", "updates/s"]
    for name in ("echo", "echo+ratelimiter", "lotsen", "lotsen-unlimited"):
        assert rows[name][1:3] == ["6", "2"], result.stdout
        assert float(rows[name][4]) > 0
    assert "Ratio lotsen / bare echo" in result.stdout
