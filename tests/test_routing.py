"""What the router answers: each test is a question staff might write and what Lotsen must do."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.answer import Kind

TZ = ZoneInfo("Europe/Stockholm")
TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=TZ)


def roles(answer):
    return [rc.role for rc in answer.contacts]


def test_absence_in_flen_names_flens_own_contacts(router, kb):
    answer = router.route("han har inte varit i skolan på tre veckor och mamma svarar inte", "flen", TUESDAY_MORNING)
    assert answer.kind is Kind.ANSWER
    assert answer.top_topic in ("skolfranvaro", "oro-hemmet")
    assert answer.municipality == "flen"
    flen_people = {c.id for c in kb.contacts.municipalities["flen"].values()}
    assert any(rc.contact.id in flen_people for rc in answer.contacts)


def test_bup_contact_question_names_the_municipalitys_bup_contact(router, kb):
    answer = router.route("Vem är BUP-kontakten för Katrineholm?", None, TUESDAY_MORNING)
    assert answer.municipality == "katrineholm"
    assert answer.top_topic == "samverkan-konsultation"
    bup = kb.contacts.municipalities["katrineholm"]["bup-kontakt"]
    assert bup.id in [rc.contact.id for rc in answer.contacts]


@pytest.mark.parametrize(
    ("text", "profile", "expected"),
    [
        ("Elev i Malmköping har slutat komma till skolan", "nykoping", "flen"),
        ("Vi jobbar i Flens kommun och har en elev som skär sig", None, "flen"),
        ("Orosanmälan i Nyköpings kommun, vart skickar jag den?", "trosa", "nykoping"),
        ("elev i strängnes med stora koncentrationssvårigheter", None, "strangnas"),
        ("ensam elev på skolan i Torshälla", None, "eskilstuna"),
        ("Förskolan i Mariefred är orolig för ett barn", None, "strangnas"),
        ("hemmasittare på högstadiet i Vagnhärad", None, "trosa"),
        ("Vi är på en skola i Katrinehom och undrar om SIP", None, "katrineholm"),
        ("Vad gör vi med en elev som har ångest?", "vingaker", "vingaker"),
    ],
)
def test_the_municipality_named_in_the_text_wins_over_the_profile(router, text, profile, expected):
    assert router.route(text, profile, TUESDAY_MORNING).municipality == expected


def test_suicidal_pupil_gets_the_emergency_route_first(router):
    answer = router.route("En elev sa nyss att hon vill ta livet av sig, hon sitter hos mig nu", "gnesta", TUESDAY_MORNING)
    assert answer.urgent
    assert answer.top_topic == "sjalvmord-sjalvskada"
    assert answer.emergency[0].contact.phone == "112"
    assert "bup-akut" in [rc.role for rc in answer.emergency]


def test_disclosed_violence_routes_to_social_services_in_office_hours_and_socialjour_at_night(router):
    text = "Eleven berättade att pappa slår honom och han har blåmärken på armarna"
    day = router.route(text, "oxelosund", TUESDAY_MORNING)
    night = router.route(text, "oxelosund", SATURDAY_NIGHT)
    assert day.urgent and night.urgent
    assert day.top_topic == night.top_topic == "vald-overgrepp"
    assert "socialtjanst-mottagning" in [rc.role for rc in day.emergency]
    assert "socialjour" in [rc.role for rc in night.emergency]
    assert not day.clarify_topics


def test_child_afraid_to_go_home_is_urgent(router):
    answer = router.route("Tjejen i sexan säger att hon inte vågar gå hem i dag", "trosa", TUESDAY_MORNING)
    assert answer.urgent


@pytest.mark.parametrize(
    "text",
    [
        "Inga självmordstankar, men hon är nedstämd och sover dåligt",
        "Hur gör man en orosanmälan generellt?",
        "Vi vill ta fram en rutin för hur vi agerar vid självskadebeteende",
        "Han har inte skadat sig, men han är ledsen hela tiden",
    ],
)
def test_negated_risks_and_general_questions_are_not_urgent(router, text):
    answer = router.route(text, "flen", TUESDAY_MORNING)
    assert answer.kind is Kind.ANSWER
    assert not answer.urgent


def test_negated_self_harm_routes_to_mental_health(router):
    answer = router.route("Inga självmordstankar, men hon är väldigt nedstämd sedan i höstas", "flen", TUESDAY_MORNING)
    assert answer.top_topic == "psykisk-ohalsa"


@pytest.mark.parametrize(
    "text",
    [
        "Vad blir det för mat i matsalen på torsdag?",
        "Hur byter jag lösenord i Schoolsoft?",
        "När betalas lönen ut i januari?",
        "Kan du skriva en dikt om hösten?",
    ],
)
def test_off_topic_questions_are_declined_with_what_lotsen_can_do(router, text):
    answer = router.route(text, "flen", TUESDAY_MORNING)
    assert answer.kind is Kind.DECLINED
    assert answer.topics == ()


def test_greetings_and_thanks_get_a_friendly_reply_not_a_decline(router):
    assert router.route("Hej hej!", None).kind is Kind.GREETING
    assert router.route("Tack så mycket! 🙏", None).kind is Kind.THANKS
    assert router.route("Hej, vad kan du hjälpa till med?", None).kind is Kind.GREETING


def test_a_long_question_that_opens_with_hello_is_not_answered_with_a_greeting(router):
    """Declined or answered, a real question is never taken for small talk because it starts "Hi"."""
    text = "Hi, a girl in year 6 has been absent most Mondays this term and says she has stomach aches. What now?"
    answer = router.route(text, "flen", TUESDAY_MORNING)
    assert answer.kind is not Kind.GREETING
    assert answer.top_topic == "skolfranvaro"


def test_emoji_only_message_is_empty(router):
    assert router.route("😟😟", None).kind is Kind.EMPTY


def test_without_a_municipality_lotsen_asks_but_still_answers(router):
    answer = router.route("Hur kallar man till en SIP?", None, TUESDAY_MORNING)
    assert answer.top_topic == "sip"
    assert answer.municipality is None
    assert answer.clarify_municipality and "kommun" in answer.clarify


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Oro för självskadebeteende hos en elev i åk 9", "sjalvmord-sjalvskada"),
        ("Vi har ett skolfrånvaroärende som vi inte kommer vidare med", "skolfranvaro"),
        ("elev med sjalvmorstankar", "sjalvmord-sjalvskada"),
        ("EHT undrar över NPF-utredning", "npf"),
        ("kan habben hjälpa till med hjälpmedel för en elev med intellektuell funktionsnedsättning", "funktionsnedsattning"),
    ],
)
def test_compounds_typos_and_abbreviations_are_understood(router, text, topic):
    assert router.route(text, "eskilstuna", TUESDAY_MORNING).top_topic == topic


def test_a_personnummer_is_reported_so_adapters_can_redact_it(router):
    answer = router.route("Gäller 811228-9874, hög frånvaro sedan jul", "flen", TUESDAY_MORNING)
    assert answer.personnummer
    assert answer.top_topic == "skolfranvaro"


def test_asking_for_the_uncoloured_wheel_lists_that_material_first(router):
    answer = router.route("Har ni hjulet utan färg så eleven kan färglägga själv?", "gnesta", TUESDAY_MORNING)
    assert answer.top_topic == "barnets-basta-hjulet"
    assert answer.materials[0].id == "hjulet-ofargat"


def test_json_output_uses_taxonomy_ids(router):
    data = router.route("elev mår dåligt", "trosa", TUESDAY_MORNING).to_json()
    assert set(data) == {"municipality", "urgent", "risk", "danger", "language", "topics", "contacts", "materials", "clarify", "personnummer", "removed"}
    assert data["municipality"] == "trosa"
    assert data["topics"][0]["id"] == "psykisk-ohalsa"
    assert all(set(c) == {"id", "role", "municipality", "name", "phone"} for c in data["contacts"])


def test_most_phrasings_of_every_topic_route_back_to_it(router, kb):
    """Guards the knowledge base: a topic whose own phrasings go elsewhere needs better keywords."""
    total = hits_all = 0
    for topic in kb.topics.values():
        hits = sum(router.route(p, "flen", TUESDAY_MORNING).top_topic == topic.id for p in topic.phrasings)
        assert hits / len(topic.phrasings) >= 0.7, topic.id
        total += len(topic.phrasings)
        hits_all += hits
    assert hits_all / total >= 0.85


def test_a_topic_chosen_after_a_clarifying_question_leads_the_answer(router, kb):
    answer = router.route("elev mår dåligt och är hemma mycket", "vingaker", TUESDAY_MORNING, topic="skolfranvaro")
    assert answer.top_topic == "skolfranvaro"
    assert not answer.clarify_topics
    assert answer.contacts[0].role == kb.topics["skolfranvaro"].roles[0]


# name: (topic@1, urgent recall, urgent precision, off-topic decline floors; false-decline ceiling).
# Every set was written blind; its first (blind) score is in the README. set_a..set_t were used to
# find weaknesses after their blind score, so these floors guard what general rules have reached
# (a case or two below the figures now). set_u and set_v were scored once, blind, after the last
# routing change of 0.5, set_w and set_x once, blind, on 0.5.0, set_y and set_z once, blind, on 0.6
# (which routes as 0.5.0); their floors sit just below that score.
# precision.yaml has no emergencies: it counts false alarms.
QUALITY_FLOORS = {
    "holdout.yaml": (0.95, 0.93, 0.93, 0.93, 0.02),
    "unseen.yaml": (0.89, 0.93, 0.68, 0.85, 0.04),
    "fresh.yaml": (0.95, 0.93, 0.88, 0.88, 0.02),
    "set_a.yaml": (0.88, 0.95, 0.88, 0.74, 0.03),
    "set_b.yaml": (0.90, 0.93, 0.89, 0.78, 0.04),
    "set_c.yaml": (0.90, 0.96, 0.96, 0.90, 0.03),
    "set_d.yaml": (0.88, 0.96, 0.93, 0.90, 0.03),
    "set_e.yaml": (0.91, 0.93, 0.91, 0.68, 0.03),
    "set_f.yaml": (0.88, 0.93, 0.96, 0.90, 0.05),
    "set_g.yaml": (0.85, 0.93, 0.89, 0.82, 0.03),
    "set_h.yaml": (0.90, 0.96, 0.94, 0.88, 0.03),
    "set_i.yaml": (0.90, 0.92, 0.96, 0.94, 0.04),
    "set_j.yaml": (0.87, 0.96, 0.86, 0.82, 0.03),
    "set_k.yaml": (0.90, 0.94, 0.94, 0.90, 0.03),
    "set_l.yaml": (0.92, 0.93, 0.96, 0.94, 0.03),
    "set_m.yaml": (0.88, 0.94, 0.98, 0.88, 0.03),
    "set_n.yaml": (0.87, 0.96, 0.96, 0.87, 0.03),
    "set_o.yaml": (0.88, 0.96, 0.96, 0.84, 0.02),
    "set_p.yaml": (0.90, 0.96, 0.96, 0.75, 0.03),
    "set_q.yaml": (0.86, 0.87, 0.95, 0.89, 0.04),
    "set_r.yaml": (0.87, 0.91, 0.84, 0.66, 0.02),
    "set_s.yaml": (0.95, 0.91, 0.92, 0.80, 0.02),
    "set_t.yaml": (0.87, 0.92, 0.91, 0.72, 0.03),
    "set_u.yaml": (0.87, 0.90, 0.94, 0.85, 0.03),
    "set_v.yaml": (0.88, 0.97, 0.92, 0.87, 0.02),
    "set_w.yaml": (0.92, 0.95, 0.96, 0.77, 0.03),
    "set_x.yaml": (0.94, 0.93, 0.98, 0.92, 0.02),
    "set_y.yaml": (0.94, 0.92, 0.92, 0.92, 0.02),
    "set_z.yaml": (0.88, 0.93, 0.93, 0.86, 0.02),
    "precision.yaml": (0.89, 1.00, 0.00, 0.91, 0.03),
}


@pytest.mark.parametrize("name", list(QUALITY_FLOORS))
def test_routing_quality_on_our_own_labelled_sets_meets_the_targets(router, kb, name):
    """tests/data/*.yaml: questions written blind to the knowledge base and dev.yaml, since used to find weaknesses."""
    from pathlib import Path

    from bot.core.evaluation import evaluate, load_cases, router_predictor

    cases = load_cases(Path(__file__).parent / "data" / name)
    report = evaluate(cases, router_predictor(router, TUESDAY_MORNING))
    topic, recall, precision, decline, false_decline = QUALITY_FLOORS[name]
    assert report.topic_at_1 >= topic
    assert report.urgent_recall >= recall and report.urgent_precision >= precision
    assert report.decline >= decline and report.false_decline <= false_decline
    assert report.municipality >= 0.97
    if name == "precision.yaml":
        assert report.counts["predicted_urgent"] <= 3  # false alarms among 150 ordinary messages


URGENT_WORDS = ["vill inte leva", "skär sig", "pappa slår", "inga", "rutin", "hej", "tack", "Flen", "lunch", "BUP"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=40), st.sampled_from(URGENT_WORDS)), max_size=12),
    st.sampled_from([None, "flen", "nykoping", "okänd"]),
    st.sampled_from([None, "sjalvmord-sjalvskada", "npf", "finns-inte"]),
)
def test_the_router_answers_any_text_without_crashing(router, parts, municipality, topic):
    """Arbitrary Unicode, emergencies in odd places and forced topics always give a well-formed answer."""
    answer = router.route(" ".join(parts), municipality, TUESDAY_MORNING, topic=topic)
    assert (answer.kind is Kind.ANSWER) == bool(answer.topics)
    assert not answer.urgent or answer.emergency
    assert answer.to_json()["municipality"] in (None, *router.kb.municipalities)  # a misspelt place still counts


def test_text_that_was_already_redacted_still_reports_the_personnummer(router):
    """Re-routing a logged question (stored with "[personnummer]") keeps the flag and ignores the placeholder."""
    answer = router.route("Gäller [personnummer], hög frånvaro sedan jul", "flen", TUESDAY_MORNING)
    assert answer.personnummer
    assert answer.top_topic == "skolfranvaro"


def test_the_same_message_gets_the_same_answer_in_every_process():
    """Routing does not depend on Python's string hashing, which differs from process to process.

    (0.6 summed scores and chose among equal keyword hits in the order of a set, so a
    few labelled questions changed their second topic, and one its first, between runs.)
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    data = Path(__file__).parent / "data"
    texts = [c["text"] for path in sorted(data.glob("*.yaml")) for c in yaml.safe_load(path.read_text(encoding="utf-8"))]
    lines = "".join(json.dumps({"text": t, "kommun": "flen"}, ensure_ascii=False) + "\n" for t in texts)
    outputs = []
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "LOTSEN_ENCODER": "av"}
        result = subprocess.run([sys.executable, "-m", "bot", "route", "--jsonl", "--now", "2026-11-24T10:00"],
                                input=lines, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.splitlines())
    assert len(outputs[0]) == len(texts)
    assert outputs[0] == outputs[1]
