"""The answer's layout: who to call on the first screen, steps, and an emergency block in proportion to the risk.

Routed by the real router over the shipped knowledge base at fixed times
(Wednesday 25 November 2026, 10:00 and 23:00 in Stockholm), rendered as the
console and Telegram show it. The Telegram round trips are in
tests/test_bot_questions.py and below (every topic × both roles).
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime

import pytest

from bot.core.answer import Danger, Risk
from bot.core.render import render_html, render_text

OFFICE = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Stockholm, a working day
NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 23:00 in Stockholm

SELF_HARM = "En elev säger att hon vill ta sitt liv och sitter hos mig nu"
VIOLENCE = "En elev berättar att pappa slår henne hemma, hon har blåmärken idag"
PAST = "En elev hade självmordstankar förra året men mår bättre nu, hur följer vi upp?"
ABSENCE = "Elev i åk 7 har hög frånvaro och vill inte komma till skolan"


def visible(reply: str) -> str:
    """What a user reads: the HTML without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", reply))


def first_phone(text: str) -> int:
    return text.index("☎")


def _header(text: str) -> str:
    return text.split("\n\n", 1)[0]


@pytest.mark.parametrize("when", [OFFICE, NIGHT], ids=["office", "night"])
def test_self_harm_now_starts_with_112_and_bup_akut(router, kb, when):
    answer = router.route(SELF_HARM, "flen", now=when)
    text = render_text(answer, kb, "larare")
    header = _header(text)
    assert text.startswith("🚨") and "112" in text.splitlines()[0]
    assert kb.contacts.regional["bup-akut"].phone in header
    assert "socialjour" not in header.lower()
    assert first_phone(text) < 400


def test_violence_at_home_in_office_hours_names_the_municipalitys_social_services_not_bup_akut(router, kb):
    text = render_text(router.route(VIOLENCE, "flen", now=OFFICE), kb, "larare")
    header = _header(text)
    assert text.startswith("🚨") and "112" in text.splitlines()[0]
    assert kb.contacts.municipalities["flen"]["socialtjanst-mottagning"].phone in header
    assert "BUP akut" not in header and kb.contacts.regional["socialjour"].phone not in header
    assert first_phone(text) < 400


def test_violence_at_home_at_night_names_the_socialjour(router, kb):
    text = render_text(router.route(VIOLENCE, "flen", now=NIGHT), kb, "elevhalsa")
    header = _header(text)
    assert kb.contacts.regional["socialjour"].phone in header and "socialjouren" in header
    assert "BUP akut" not in header
    assert kb.contacts.municipalities["flen"]["socialtjanst-mottagning"].phone not in header


def test_violence_filters_a_bup_akut_the_router_picked(router, kb):
    """If the router's emergency contacts do not fit the danger, the block shows only those that do."""
    self_harm = router.route(SELF_HARM, "flen", now=OFFICE)
    violence = router.route(VIOLENCE, "flen", now=OFFICE)
    mixed = dataclasses.replace(violence, emergency=self_harm.emergency)
    header = _header(render_text(mixed, kb))
    assert "BUP akut" not in header and "112" in header
    assert kb.contacts.municipalities["flen"]["socialtjanst-mottagning"].phone in header


@pytest.mark.parametrize("when", [OFFICE, NIGHT], ids=["office", "night"])
def test_a_child_afraid_to_go_home_is_not_sent_home(router, kb, when):
    routed = router.route(VIOLENCE, "flen", now=when)
    answer = dataclasses.replace(routed, danger=Danger.UNSAFE_HOME)
    header = _header(render_text(answer, kb))
    assert "skicka inte hem barnet" in header.lower()
    expected = "socialtjanst-mottagning" if when is OFFICE else "socialjour"
    contact = kb.contact_for(expected, "flen")
    assert contact is not None and contact.phone in header


@pytest.mark.parametrize("when", [OFFICE, NIGHT], ids=["office", "night"])
def test_a_possible_risk_gets_one_line_with_the_acute_numbers(router, kb, when):
    routed = router.route(PAST, "flen", now=when)
    answer = dataclasses.replace(routed, risk=Risk.POSSIBLE, urgent=False, danger=Danger.SELF_HARM)
    text = render_text(answer, kb, "elevhalsa")
    first, rest = text.split("\n", 1)
    assert first.startswith("⚠️") and "112" in first and kb.contacts.regional["bup-akut"].phone in first
    assert "🚨" not in text and "⚠️" not in rest
    assert rest.lstrip().startswith("Självmordstankar och självskada – Flen")


@pytest.mark.parametrize("when", [OFFICE, NIGHT], ids=["office", "night"])
def test_a_past_event_gets_no_emergency_header(router, kb, when):
    answer = router.route(PAST, "flen", now=when)
    assert answer.risk is Risk.NONE
    text = render_text(answer, kb, "larare")
    assert "🚨" not in text and "⚠️" not in text
    assert text.startswith("Självmordstankar och självskada – Flen")


def test_a_teacher_starts_with_the_elevhalsa_and_the_mentors_step(router, kb):
    text = render_text(router.route(ABSENCE, "flen", now=OFFICE), kb, "larare")
    contacts = text.split("Vänd dig till:\n", 1)[1]
    assert contacts.startswith("• " + kb.contacts.municipalities["flen"]["elevhalsa"].name)
    steps = text.split("Gör så här:\n", 1)[1].split("\n\n")[0].splitlines()
    assert steps[0] == "• " + kb.steps["skolfranvaro"].mentor
    assert 1 <= len(steps) <= 5


def test_student_health_starts_with_the_bup_contact(router, kb):
    text = render_text(router.route(ABSENCE, "flen", now=OFFICE), kb, "elevhalsa")
    contacts = text.split("Vänd dig till:\n", 1)[1]
    assert contacts.startswith("• " + kb.contacts.municipalities["flen"]["bup-kontakt"].name)
    assert kb.contacts.municipalities["flen"]["elevhalsa"].name not in contacts.split("\n\n")[0]
    assert kb.steps["skolfranvaro"].mentor not in text


def test_student_health_sees_social_services_first_for_worries_at_home(router, kb):
    answer = router.route("Jag är orolig för hur en elev har det hemma", "flen", now=OFFICE, topic="oro-hemmet")
    assert answer.top_topic == "oro-hemmet"
    contacts = render_text(answer, kb, "kurator").split("Vänd dig till:\n", 1)[1]
    assert contacts.startswith("• " + kb.contacts.municipalities["flen"]["socialtjanst-mottagning"].name)


def test_an_ordinary_answer_is_short_and_has_at_most_three_contacts(router, kb):
    lengths = []
    for topic in kb.topics.values():
        for role in ("larare", "elevhalsa"):
            answer = router.route(topic.phrasings[0], "flen", now=OFFICE, topic=topic.id)
            text = render_text(answer, kb, role)
            contacts = text.split("Vänd dig till:\n", 1)[1].split("\n\n")[0]
            assert 2 <= contacts.count("☎") <= 3, (topic.id, role)
            if answer.risk is Risk.NONE:
                lengths.append(len(text))
    lengths.sort()
    assert lengths[len(lengths) // 2] <= 1200, lengths


def test_a_topic_without_steps_falls_back_to_the_first_sentences_of_its_answer(router, kb):
    steps = {k: v for k, v in kb.steps.items() if k != "skolfranvaro"}
    answer = router.route(ABSENCE, "flen", now=OFFICE)
    text = render_text(answer, dataclasses.replace(kb, steps=steps), "elevhalsa")
    lines = text.split("Gör så här:\n", 1)[1].split("\n\n")[0].splitlines()
    assert lines[0] == "• Agera tidigt – redan vid upprepad ströfrånvaro, inte först när eleven blivit hemmasittare."
    assert len(lines) == 5


def test_every_topic_has_short_steps(kb):
    for tid in kb.topics:
        assert tid in kb.steps, tid
        assert 1 <= len(kb.steps[tid].steps) <= 5


def test_an_english_question_gets_one_english_line_first(router, kb):
    answer = dataclasses.replace(router.route(ABSENCE, "flen", now=OFFICE), language="en")
    lines = render_html(answer, kb).splitlines()
    assert lines[0] == "Lotsen answers in Swedish. Here is who to contact:"
    assert lines[1].startswith("<b>Problematisk skolfrånvaro – Flen")
    acute = dataclasses.replace(router.route(SELF_HARM, "flen", now=OFFICE), language="en")
    lines = render_html(acute, kb).splitlines()
    assert lines[0].startswith("Lotsen answers in Swedish") and lines[1].startswith("🚨")
    declined = dataclasses.replace(router.route("Hur bakar man kanelbullar?", "flen", now=OFFICE), language="en")
    assert declined.declined
    assert render_text(declined, kb).splitlines()[0] == "Lotsen answers in Swedish."


def test_html_has_tappable_phones_in_the_same_layout(router, kb):
    answer = router.route(ABSENCE, "flen", now=OFFICE)
    reply = render_html(answer, kb, "larare")
    assert 'href="tel:0701740611"' in reply
    assert visible(reply) == render_text(answer, kb, "larare")


# --------------------------------------------------------------------------- in Telegram


async def test_the_first_phone_is_within_400_characters_for_every_topic_and_both_roles(fake_api, lotsen, kb):
    """Every topic, asked by a teacher and by student health in Telegram: a phone number on the first screen."""
    users = {"larare": fake_api.user(6001), "elevhalsa": fake_api.user(6002)}
    for uid, role in ((6001, "larare"), (6002, "elevhalsa")):
        await lotsen.services.storage.users.save(lotsen.services.user_key(uid), role=role, municipality="nykoping")
    for topic in kb.topics.values():
        for role, user in users.items():
            answer = await user.ask(topic.phrasings[0])
            text = visible(answer.text)
            assert "☎" in text, (topic.id, role)
            assert first_phone(text) < 400, (topic.id, role, text[:400])
            assert 'href="tel:' in answer.text


async def test_mer_om_sends_the_full_advice(fake_api, lotsen, kb):
    await lotsen.services.storage.users.save(lotsen.services.user_key(6003), role="larare", municipality="flen")
    user = fake_api.user(6003)
    answer = await user.ask(ABSENCE)
    assert answer.button("Mer om") == "mer:skolfranvaro"
    more = await user.click(answer, "mer:skolfranvaro")
    assert "Rektor ansvarar för att upprepad eller längre frånvaro utreds skyndsamt" in more.text


async def test_a_municipality_chosen_under_an_answer_is_saved_to_the_profile(fake_api, lotsen):
    user = fake_api.user(6004)
    answer = await user.ask(ABSENCE)
    await user.click(answer, answer.button("Trosa"))
    profile = await lotsen.services.storage.users.get(lotsen.services.user_key(6004))
    assert profile is not None and profile.municipality == "trosa"
    assert "– Trosa" in (await user.ask(ABSENCE)).text


async def test_headers_in_telegram_follow_the_danger_and_the_clock(fake_api, lotsen, kb):
    """In Telegram: violence at home names social services or the socialjour by the current clock, never BUP akut;
    self-harm names BUP akut; a past event has no emergency header. (Both clocks are checked above, at fixed times.)"""
    await lotsen.services.storage.users.save(lotsen.services.user_key(6005), role="larare", municipality="flen")
    user = fake_api.user(6005)
    office = lotsen.services.router.picker.is_office_hours(datetime.now(UTC))
    violence = visible((await user.ask(VIOLENCE)).text)
    header = _header(violence)
    assert violence.startswith("🚨") and "BUP akut" not in header
    social = "socialtjanst-mottagning" if office else "socialjour"
    expected = kb.contact_for(social, "flen")
    assert expected is not None and expected.phone in header
    self_harm = _header(visible((await user.ask(SELF_HARM)).text))
    assert self_harm.startswith("🚨") and kb.contacts.regional["bup-akut"].phone in self_harm
    past = visible((await user.ask(PAST)).text)
    assert "🚨" not in past and "⚠️" not in past and past.startswith("Självmordstankar och självskada – Flen")
