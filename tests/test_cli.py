"""The `lotsen` command line, run as a real subprocess the way a curator would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lotsen(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSEN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=120,
    )


def test_ask_prints_the_answer_with_the_municipalitys_contact(kb):
    result = lotsen("ask", "Vem är BUP:s kontaktperson i Vingåker?")
    assert result.returncode == 0, result.stderr
    bup = kb.contacts.municipalities["vingaker"]["bup-kontakt"]
    assert bup.name in result.stdout and bup.phone in result.stdout
    assert "(fiktiv exempelkontakt)" in result.stdout


def test_ask_json_has_the_route_shape():
    result = lotsen("ask", "elev skär sig", "--kommun", "Nyköping", "--json")
    data = json.loads(result.stdout)
    assert data["municipality"] == "nykoping" and data["urgent"] is True
    assert data["topics"][0]["id"] == "sjalvmord-sjalvskada"


def test_ask_with_unknown_municipality_is_one_clear_line():
    result = lotsen("ask", "elev mår dåligt", "--kommun", "Uppsala")
    assert result.returncode == 1
    assert result.stderr.startswith("lotsen: okänd kommun 'Uppsala'")
    assert "Traceback" not in result.stderr


def test_route_jsonl_answers_every_line_and_reports_bad_lines_in_place():
    lines = [
        json.dumps({"text": "hemmasittare i åk 8", "kommun": "flen"}),
        "this is not json",
        json.dumps({"text": "Vad blir det för lunch?", "kommun": None}),
        json.dumps({"kommun": "flen"}),
    ]
    result = lotsen("route", "--jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["topics"][0]["id"] == "skolfranvaro" and out[0]["municipality"] == "flen"
    assert "error" in out[1] and out[1]["error"].startswith("rad 2")
    assert out[2]["topics"] == []
    assert "error" in out[3]


def test_eval_prints_every_metric(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        """
- id: t1
  text: "Elev i åk 6 har inte varit i skolan sedan höstlovet"
  kommun: trosa
  expect: {topic: skolfranvaro, municipality: trosa, urgent: false, material: null}
- id: t2
  text: "Hur bokar jag ett grupprum?"
  kommun: trosa
  expect: {topic: null, municipality: trosa, urgent: false, material: null}
""",
        encoding="utf-8",
    )
    result = lotsen("eval", str(cases))
    assert result.returncode == 0, result.stderr
    for label in ("topic@1", "off-topic decline", "false decline", "urgent recall", "urgent precision", "municipality", "material recall"):
        assert label in result.stdout
    data = json.loads(lotsen("eval", str(cases), "--json").stdout)
    assert data["topic_at_1"] == 1.0 and data["offtopic_decline"] == 1.0


def test_validate_passes_on_the_shipped_knowledge_base():
    result = lotsen("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Kunskapsbasen är giltig")


def test_validate_lists_broken_yaml_as_file_line_and_exits_non_zero(tmp_path):
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copy(ROOT / "contacts.yaml", tmp_path / "contacts.yaml")
    topic = tmp_path / "knowledge" / "topics" / "sip.yaml"
    topic.write_text(topic.read_text(encoding="utf-8").replace("roles:", "roles: [", 1), encoding="utf-8")
    env = {"LOTSEN_KNOWLEDGE": str(tmp_path / "knowledge"), "LOTSEN_CONTACTS": str(tmp_path / "contacts.yaml")}
    result = lotsen("validate", env=env)
    assert result.returncode == 2
    assert "knowledge/topics/sip.yaml:" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_is_the_default_without_a_token_and_remembers_the_municipality(kb):
    result = lotsen(stdin="/kommun oxelosund\nvem är bup-kontakt?\n/avsluta\n")
    assert result.returncode == 0, result.stderr
    assert "Kommun vald: Oxelösund." in result.stdout
    assert kb.contacts.municipalities["oxelosund"]["bup-kontakt"].name in result.stdout


def test_ask_orders_the_contacts_for_the_role(kb):
    teacher = lotsen("ask", "Elev i åk 7 har hög frånvaro", "--kommun", "flen", "--roll", "larare")
    health = lotsen("ask", "Elev i åk 7 har hög frånvaro", "--kommun", "flen", "--roll", "elevhalsa")
    assert teacher.returncode == 0 and health.returncode == 0, teacher.stderr + health.stderr
    flen = kb.contacts.municipalities["flen"]
    assert teacher.stdout.split("Vänd dig till:\n", 1)[1].startswith("• " + flen["elevhalsa"].name)
    assert health.stdout.split("Vänd dig till:\n", 1)[1].startswith("• " + flen["bup-kontakt"].name)
