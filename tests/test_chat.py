"""`lotsen chatt`: numbered clarifying options, /mer, /konsultation pointing to Telegram, the role's order."""

from __future__ import annotations

import io

import pytest

from bot.cli.chat import CONSULTATION, chat

CANDIDATES = ["Eleven har hög frånvaro och mår dåligt", "eleven hjulet och kriminella nätverk",
              "eleven hjulet och varaktig funktionsnedsättning"]


def _talk(kb, router, lines: list[str], municipality: str | None = "flen", role: str | None = None) -> str:
    out = io.StringIO()
    assert chat(kb, router, municipality, io.StringIO("\n".join(lines) + "\n"), out, role=role) == 0
    return out.getvalue()


def test_clarifying_options_are_numbered_and_chosen_by_number(kb, router):
    text = next((t for t in CANDIDATES if router.route(t, "flen").clarify_topics), None)
    if text is None:
        pytest.skip("the current knowledge base has no tie among the candidate texts")
    first, second = router.route(text, "flen").clarify_topics
    output = _talk(kb, router, [text, "2"])
    assert "Svara med en siffra:" in output
    assert f"  1. {kb.topics[first].name}" in output and f"  2. {kb.topics[second].name}" in output
    after = output.split("  2. " + kb.topics[second].name, 1)[1]
    assert f"{kb.topics[second].name} – Flen" in after


def test_a_number_without_options_is_a_question(kb, router):
    output = _talk(kb, router, ["3"])
    assert "Svara med en siffra" not in output


def test_konsultation_explains_requests_are_made_in_telegram(kb, router):
    output = _talk(kb, router, ["/konsultation"])
    assert CONSULTATION in output and "Telegram" in CONSULTATION


def test_mer_prints_the_full_advice_of_the_last_topic(kb, router):
    output = _talk(kb, router, ["Elev i åk 7 har hög frånvaro", "/mer"])
    assert "Mer om problematisk skolfrånvaro" in output
    assert "Rektor ansvarar för att upprepad eller längre frånvaro utreds skyndsamt" in output


def test_the_role_orders_the_contacts(kb, router):
    output = _talk(kb, router, ["Elev i åk 7 har hög frånvaro"], role="elevhalsa")
    contacts = output.split("Vänd dig till:\n", 1)[1]
    assert contacts.startswith("• " + kb.contacts.municipalities["flen"]["bup-kontakt"].name)
