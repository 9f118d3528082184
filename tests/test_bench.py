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


def bench(script: str, *args: str, encoder: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs a benchmark script; `encoder=False` makes Lotsen route on words alone (LOTSEN_ENCODER=av)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOTSEN_ENCODER": "på" if encoder else "av"}
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


ROUTERS = ("lotsen", "e5-knn", "rapidfuzz", "bm25", "tfidf-linear", "tfidf-cv-ceiling")


def test_routing_prints_every_router_against_the_same_metrics(tiny_eval: Path) -> None:
    """bench/routing.py prints one row per router (Lotsen with the encoder, e5-knn), the footnotes and both margins."""
    needs_bench_extras("rank_bm25", "sklearn")
    result = bench("routing.py", str(tiny_eval))
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["router"] == [
        "router", "topic@1", "off-topic decline", "false decline", "urgent recall", "urgent precision", "municipality",
    ]  # fmt: skip
    for name in ROUTERS:
        assert name in rows, result.stdout
        assert all(0.0 <= float(v) <= 1.0 for v in rows[name][1:]), rows[name]
    # The sentence encoder alone places most of these plain cases; a broken encoder or index would not.
    assert float(rows["e5-knn"][1]) >= 0.6, result.stdout
    assert "6 cases (5 in scope, 1 off-topic, 1 urgent)" in result.stdout
    assert "lotsen: words fused with the sentence encoder" in result.stdout
    assert "profile municipality" in result.stdout
    assert "Margin: lotsen topic@1 − best same-knowledge lexical baseline" in result.stdout
    assert "Margin: lotsen topic@1 − e5-knn (same encoder, same phrasings)" in result.stdout


def test_routing_json_has_a_report_per_router(tiny_eval: Path) -> None:
    """`--json` gives the same figures as JSON, with both margins in points."""
    needs_bench_extras("rank_bm25", "sklearn")
    result = bench("routing.py", str(tiny_eval), "--json", encoder=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["rows"]) == set(ROUTERS)
    assert data["rows"]["lotsen"]["cases"] == data["rows"]["e5-knn"]["cases"] == 6
    assert data["lotsen_routes_on"] == "words only (LOTSEN_ENCODER=av)"
    assert isinstance(data["margin_points"], float)
    assert isinstance(data["margin_over_e5_knn_points"], float)


def test_routing_prints_a_table_per_evaluation_file(tiny_eval: Path, tmp_path: Path) -> None:
    """Several evaluation files give one table each, in the order given (a JSON list with --json)."""
    second = tmp_path / "second.yaml"
    second.write_text(TINY_EVAL.split("- id: t4")[0], encoding="utf-8")  # the first three cases
    result = bench("routing.py", str(tiny_eval), str(second), "--json", encoder=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["file"] for d in data] == [str(tiny_eval), str(second)]
    assert [d["cases"] for d in data] == [6, 3]
    text = bench("routing.py", str(second), str(tiny_eval), encoder=False)
    assert text.returncode == 0, text.stderr
    titles = [line for line in text.stdout.splitlines() if line.startswith("Routing quality on")]
    assert titles == [f"Routing quality on {second}: 3 cases (3 in scope, 0 off-topic, 1 urgent)",
                      f"Routing quality on {tiny_eval}: 6 cases (5 in scope, 1 off-topic, 1 urgent)"]


def test_routing_without_an_evaluation_file_says_what_to_pass(tmp_path: Path) -> None:
    """A missing evaluation file is one clear line on stderr and exit code 2, not a traceback."""
    result = bench("routing.py", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "evaluation file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_latency_prints_a_row_per_knowledge_base_size() -> None:
    """bench/latency.py measures the shipped knowledge base and a grown one on words and prints the table."""
    needs_bench_extras("psutil")
    result = bench("latency.py", "--n", "20", "--sizes", "1,2", "--repeat", "2", encoder=False)
    assert result.returncode == 0, result.stderr
    assert "With the sentence encoder: skipped (LOTSEN_ENCODER=av)." in result.stdout
    assert "medians of 2 runs" in result.stdout
    rows = table_rows(result.stdout)
    assert rows["size"] == ["size", "topics", "phrasings", "build ms", "p50 ms", "p99 ms", "msgs/s", "peak MB", "RSS MB"]
    shipped, grown = rows["1× (shipped)"], rows["2×"]
    assert int(grown[1]) == 2 * int(shipped[1])  # topics doubled
    assert int(grown[2]) == 2 * int(shipped[2])  # phrasings doubled
    assert "Aim p99 ≤ 2 ms at 1×" in result.stdout


@pytest.mark.slow
def test_latency_with_the_encoder_prints_routing_and_load_tables() -> None:
    """With the encoder, bench/latency.py times routing per kind of message and a build from the shipped vectors.

    (The cold build, which encodes the whole knowledge base, is the same code with another folder; it
    takes half a minute and is left to `make bench`.)
    """
    result = bench("latency.py", "--n", "5", "--n-encoder", "6", "--sizes", "1", "--repeat", "1", "--phases", "shipped")
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["message kind"] == ["message kind", "messages", "p50 ms", "p99 ms", "max ms", "msgs/s"]
    assert rows["all"][1] == "6"
    assert rows["vectors"] == ["vectors", "load ms", "router build ms", "total ms"]
    assert "shipped" in rows and "cold" not in rows
    assert "Aim route() p99 ≤ 60 ms with the encoder" in result.stdout
    assert "Aim knowledge base loaded in ≤ 3 s with shipped vectors or a warm cache" in result.stdout
    assert "the engine failed" not in result.stdout
    assert "1× (shipped)" in rows


@pytest.mark.slow
def test_e2e_prints_echo_and_lotsen_throughput() -> None:
    """bench/e2e.py runs the echo bot and `lotsen kor` (with its encoder) against the fake Bot API and prints both."""
    needs_bench_extras("psutil")
    pytest.importorskip("fakebotapi", reason="tests/fakebotapi.py (the fake Bot API) is not importable")
    result = bench("e2e.py", "--n", "6", "--users", "2", "--repeat", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    rows = table_rows(result.stdout)
    assert rows["bot"][:5] == ["bot", "messages", "users", "seconds", "updates/s"]
    assert rows["bot"][-1] == "encoder RSS MB"
    for name in ("echo", "echo+ratelimiter", "lotsen", "lotsen-unlimited", "lotsen-words"):
        assert rows[name][1:3] == ["6", "2"], result.stdout
        assert float(rows[name][4]) > 0
    assert rows["echo"][-1] == rows["lotsen-words"][-1] == "–"  # no encoder process
    assert float(rows["lotsen"][-1]) > 0, result.stdout  # the sentence encoder's process ran
    assert "Ratio lotsen / bare echo" in result.stdout
    assert "distinct questions/s end to end" in result.stdout


TINY_PRIVACY = """\
- id: p1
  text: "Vilgot i 4A säger att pappa ringer från 070-174 22 31 och att de bor på Lindvägen 3."
  identifiers:
    - {kind: name, text: "Vilgot"}
    - {kind: phone, text: "070-174 22 31"}
    - {kind: address, text: "Lindvägen 3"}
  keep: ["4A", "pappa"]
- id: p2
  text: "Hon klarar inte av rasterna i Flen, skriv till mig."
  identifiers: []
  keep: ["klarar", "Flen"]
"""


def test_privacy_prints_recall_per_kind_and_words_wrongly_removed(tmp_path: Path) -> None:
    """bench/privacy.py prints one row per kind of identifier, the false removals and the time per message."""
    path = tmp_path / "tiny_privacy.yaml"
    path.write_text(TINY_PRIVACY, encoding="utf-8")
    result = bench("privacy.py", str(path))
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["kind"] == ["kind", "identifiers", "removed", "recall"]
    assert rows["name"][1:] == ["1", "1", "1.000"] and rows["address"][1:] == ["1", "1", "1.000"]
    assert "Words to keep wrongly removed: 0 of 4 (0.000)" in result.stdout
    assert "aim: ≤ 2 ms added per message" in result.stdout
