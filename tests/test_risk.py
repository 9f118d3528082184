"""Risk levels, the sentence encoder and its faults: what the router decides about danger and meaning."""

from __future__ import annotations

import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from bot.core.answer import Danger, Kind, Risk
from bot.core.encoder import DIM, Encoder, prepare
from bot.core.render import render_text
from bot.core.router import Router
from bot.core.vectors import EmbeddingCache
from bot.knowledge.loader import load_knowledge

TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
ROOT = Path(__file__).resolve().parent.parent


def route(router, text, kommun="flen"):
    return router.route(text, kommun, TUESDAY_MORNING)


# --------------------------------------------------------------------------- risk levels


@pytest.mark.parametrize(
    ("text", "danger"),
    [
        ("Hon visade mig färska sår på underarmen under idrotten, det blöder fortfarande", Danger.SELF_HARM),
        ("En elev har gett bort sin mobil och sina kläder till kompisarna den här veckan", Danger.SELF_HARM),
        ("Pojken säger att pappa slår honom med bältet när han inte lyder", Danger.VIOLENCE),
        ("Hon säger att hon inte vågar gå hem ikväll", Danger.UNSAFE_HOME),
        ("A girl in year 8 told me she wants to kill herself tonight", Danger.SELF_HARM),
        ("Förskolan har stängt, ingen har hämtat fyraåringen och vi når varken mamma eller pappa", Danger.UNSAFE_HOME),
        ("My pupil says daddy kicked her this morning and she has a bruise on her cheek", Danger.VIOLENCE),
        ("Tvillingarna säger att pappa inte har varit hemma sedan i torsdags och att de är själva", Danger.UNSAFE_HOME),
        ("Han har tagit några piller och nu sluddrar han och kräks i korridoren", Danger.UNSAFE_HOME),
        ("Femåringen sa att pappa håller handen över munnen på henne så att hon inte kan andas", Danger.VIOLENCE),
        ("Hon har brännmärken på handryggen och säger att hon gjort dem själv i morse", Danger.SELF_HARM),
        ("Vi hittade rakblad och ett brev till mamma i hans bänk, han gick hem för en stund sedan", Danger.SELF_HARM),
        ("Hon säger att hon inte kommer vara kvar efter lovet och har gett bort sina smycken", Danger.SELF_HARM),
        ("A pupil keeps pressing a sharpener blade into his arm during the lesson", Danger.SELF_HARM),
        ("Äldre killar säger att de vet var hans lillasyster bor om han inte tar paketet", Danger.VIOLENCE),
    ],
)
def test_a_child_at_risk_now_is_acute_with_the_kind_of_danger(router, text, danger):
    answer = route(router, text)
    assert answer.risk is Risk.ACUTE and answer.urgent
    assert answer.danger is danger
    assert answer.emergency[0].contact.phone == "112"


def test_a_risk_assessed_as_low_is_possible_not_acute(router):
    answer = route(router, "Hon har självmordstankar men BUP har bedömt att risken är låg, hur stöttar vi i skolan?")
    assert answer.risk is Risk.POSSIBLE and not answer.urgent
    assert answer.danger is Danger.SELF_HARM


@pytest.mark.parametrize(
    "text",
    [
        "Inga självmordstankar, men hon är nedstämd och sover dåligt",
        "Han skar sig för två år sedan men har fått hjälp och mår bättre nu",
        "Hur gör man en orosanmälan vid misstanke om misshandel, generellt?",
        "Vi vill ha en checklista i personalrummet om vad man gör när ett barn berättar om övergrepp",
        "Min elev säger att hon skämtade när hon skrev att hon ville dö, och hon skrattade åt det",
        "Elevens pappa försökte ta sitt liv förra månaden och eleven är ledsen",
        "En elev skrev en novell där huvudpersonen skär sig, och eleven själv verkar må bra",
    ],
)
def test_negated_past_general_joking_and_relatives_risks_are_not_acute(router, text):
    assert route(router, text).risk is not Risk.ACUTE


def test_since_makes_a_past_word_a_duration_and_a_telling_today_dates_only_the_telling(router):
    # "sedan förra veckan": still going on, so not calmed as past
    ongoing = route(router, "Hon säger att hon inte vågar gå hem, det har varit så sedan förra veckan")
    assert ongoing.risk is Risk.ACUTE
    # "berättade idag" about something years ago: the event is past, only the telling is today
    told = route(router, "Han berättade idag att pappa slog honom när han var liten, för sex år sedan")
    assert told.risk is not Risk.ACUTE


def test_a_risk_assessed_as_high_stays_acute_and_a_game_threat_is_a_peer_matter(router):
    high = route(router, "Kuratorn har bedömt risken som hög, hon har en plan för att ta sitt liv i kväll")
    assert high.risk is Risk.ACUTE
    game = route(router, "Två killar bråkade om fotbollen och den ena skrek 'jag ska döda dig', nu är de sams igen")
    assert game.risk is not Risk.ACUTE and game.topics[0].id == "kamrater-ensamhet"


def test_a_child_thrown_out_of_home_is_about_the_home_and_a_gang_threat_about_crime(router):
    home = route(router, "Hon blev utkastad hemifrån i går och har sovit i trapphuset, hon har ingenstans att sova")
    assert home.risk is Risk.ACUTE and home.topics[0].id == "oro-hemmet"
    gang = route(router, "Äldre killar säger att han är skyldig dem pengar och hotar att hämta honom efter skolan")
    assert gang.risk is Risk.ACUTE and gang.topics[0].id == "kriminalitet"


def test_an_acute_message_gets_the_topic_it_is_about(router):
    """An emergency can be about substance use: the emergency route comes first, the topic stays missbruk."""
    answer = route(router, "En elev i nian har druckit en hel flaska vodka på lunchen och går inte att väcka ordentligt")
    assert answer.urgent and answer.top_topic == "missbruk"


def test_signs_of_intoxication_together_are_about_substance_use(router):
    """Two signs in one sentence ("helt väck", "sluddrar") make it acute; pills then point to substance use."""
    answer = route(router, "Två elever är helt väck och sluddrar efter lunchrasten. De har tagit tabletter från en kille.")
    assert answer.urgent and answer.top_topic == "missbruk"


def test_ordinary_words_that_look_like_abuse_words_are_not_acute(router):
    """"kom in i klassrummet" is not someone coming into a child's room at night; "hem till pappa" holds no secret."""
    for text in ("En mamma kom in i klassrummet under lektionen för att lämna en glömd gympapåse",
                 "Hon ska hem till pappa efter skolan på fredag, hur gör vi med läxorna?"):
        assert route(router, text).risk is not Risk.ACUTE


def test_a_long_message_that_reads_calm_demotes_an_acute_word_to_possible(router):
    """The words say self-harm; the message as a whole is about a plan that has worked for years."""
    text = ("Vi har en elev som skadade sig själv för flera år sedan och som enligt BUP har varit skadefri länge. "
            "Nu ska hon åka på lägerskola med klassen, behöver vi tänka på något särskilt?")
    assert route(router, text).risk is not Risk.ACUTE


def test_a_staff_members_own_matter_is_declined(router):
    """No child is named and it reads like the off-topic examples: the writer's own salary talk."""
    answer = route(router, "Jag har lönesamtal med rektorn nästa vecka, hur mycket påslag ska jag be om?")
    assert answer.kind == "declined"


@pytest.mark.parametrize("text", [
    "Jag är helt slut och sover dåligt, vart vänder jag mig som anställd?",
    "Jag har feber, hur sjukanmäler jag mig i morgon?",
    "I'm exhausted myself, who do I talk to about occupational health?",
])
def test_the_writers_own_health_or_leave_is_declined_with_where_staff_turn(router, kb, text):
    """No child is named and the writer asks about their own matter (knowledge/smalltalk.yaml `own_matter`):
    the reply points to their manager and occupational health, not to the list of child topics."""
    answer = route(router, text)
    assert answer.kind == "declined"
    reply = render_text(answer, kb)
    assert "företagshälsovården" in reply and "1177" in reply
    assert "orosanmälan" not in reply


def test_an_ordinary_off_topic_question_gets_the_general_decline(router, kb):
    reply = render_text(route(router, "Hur bokar jag ett grupprum till fredag?"), kb)
    assert "orosanmälan" in reply and "företagshälsovården" not in reply


def test_the_writers_own_words_do_not_decline_a_question_about_a_child(router):
    answer = route(router, "Jag mår inte bra själv av det här: eleven i åk 4 säger att hon inte får äta hemma")
    assert answer.kind == "answer"


def test_a_relatives_suicide_is_grief_not_risk(router):
    answer = route(router, "En elevs mamma tog sitt liv i helgen, hur tar vi emot honom i klassen på måndag?")
    assert answer.risk is Risk.NONE
    assert answer.top_topic == "sorg-kris"


def test_words_never_match_across_a_sentence_break(router):
    """ "sluta" ends one sentence and "finnas" starts the next: no wish to stop existing."""
    assert route(router, "Vi ska sluta. Finns det mer stöd att få för klassen?").risk is Risk.NONE
    assert route(router, "Hon säger att hon vill sluta finnas.").risk is Risk.ACUTE


def test_the_acute_part_of_a_long_message_is_found_late(router):
    context = "Han har haft det tufft med matten i höstas och föräldrarna har varit på utvecklingssamtal. " * 4
    answer = route(router, context + "Idag sa han till mig att han ska lägga sig på spåret efter skolan.")
    assert answer.risk is Risk.ACUTE


# --------------------------------------------------------------------------- coverage and language


def test_english_is_routed_like_swedish_and_marked_english(router):
    answer = route(router, "A pupil in my class has stopped coming to school, who can help us?")
    assert answer.top_topic == "skolfranvaro" and answer.language == "en"
    assert route(router, "Eleven har slutat komma till skolan, vem kan hjälpa oss?").language == "sv"


def test_unaccented_text_routes_like_accented(router):
    assert route(router, "eleven ar ledsen och gråter hela tiden, mar daligt").top_topic == route(
        router, "eleven är ledsen och gråter hela tiden, mår dåligt"
    ).top_topic


@pytest.mark.parametrize("text", ["Jag är orolig för en av mina elever", "hjälp!", "I am worried about a pupil"])
def test_a_vague_worry_gets_a_question_with_topic_choices(router, text):
    answer = route(router, text)
    assert answer.kind is Kind.CLARIFY
    assert 3 <= len(answer.clarify_topics) <= 5
    assert all(t in router.kb.topics for t in answer.clarify_topics)


def test_grief_has_its_own_topic(router):
    assert route(router, "En elev i sexan sörjer sin morfar som dog i veckan, hur kan vi stötta henne?").top_topic == "sorg-kris"


def test_a_phrasing_added_by_a_curator_routes_there(tmp_path):
    """The fix docs/kurera.md teaches: a question under `phrasings:` and close paraphrases route to that topic."""
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    question = "Eleven vill alltid sitta längst bak i bussen på utflykter"
    kb = load_knowledge(tmp_path / "knowledge", ROOT / "contacts.yaml")
    encoder = Encoder()
    try:
        before = Router(kb, encoder=encoder, cache=EmbeddingCache(tmp_path / "cache")).route(question, "flen")
        path = tmp_path / "knowledge" / "topics" / "kamrater-ensamhet.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["phrasings"].append(question)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        kb = load_knowledge(tmp_path / "knowledge", ROOT / "contacts.yaml")
        router = Router(kb, encoder=encoder, cache=EmbeddingCache(tmp_path / "cache"))
        assert before.top_topic != "kamrater-ensamhet"
        assert router.route(question, "flen").top_topic == "kamrater-ensamhet"
        paraphrase = "En elev i fyran vill jämt sitta längst bak i bussen på utflykterna"
        assert router.route(paraphrase, "flen").top_topic == "kamrater-ensamhet"
    finally:
        encoder.close()


# --------------------------------------------------------------------------- the encoder and its faults


def test_text_is_made_safe_for_the_engine():
    """NFKC first (the engine overflows on some unnormalised Unicode), no control or invisible characters."""
    assert prepare("\ufdfa") != "\ufdfa"  # the ligature is expanded to its letters
    assert prepare("hej\u200bdå\x00\n") == "hejdå"
    assert prepare("") == "."
    assert len(prepare("a" * 5000)) == 700


def test_the_real_engine_embeds_awkward_unicode_without_crashing():
    encoder = Encoder()
    try:
        vectors = encoder.embed(["\ufdfa" * 40, "😀" * 300, "Elev mår dåligt"])
        assert vectors is not None and vectors.shape == (3, DIM)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    finally:
        encoder.close()


def test_two_engine_children_give_what_one_gives_even_when_asked_at_once():
    """A batch split between the children, and messages from several threads at once, get their own vectors."""
    texts = ["Eleven skär sig i armarna", "Hög frånvaro sedan i höstas", "Pappa slår mig, sa han", "Hon är ensam"]
    one, two = Encoder(processes=1), Encoder(processes=2)
    try:
        expected = one.embed(texts)
        assert expected is not None
        assert np.array_equal(two.embed(texts), expected)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda text: two.embed([text]), texts * 3))
        for got, want in zip(answers, list(expected) * 3, strict=True):
            assert got is not None and np.array_equal(got[0], want)
    finally:
        one.close()
        two.close()


CRASHING = [sys.executable, "-c", "import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGILL)"]
HANGING = [sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(60)"]


@pytest.mark.parametrize("command", [CRASHING, HANGING], ids=["SIGILL", "hangs"])
def test_an_engine_that_crashes_or_hangs_gives_none_and_is_not_retried_at_once(command):
    encoder = Encoder(command=command)
    try:
        started = time.monotonic()
        assert encoder.embed(["Elev mår dåligt"], timeout=2.0) is None
        assert time.monotonic() - started < 10
        assert encoder.failures == 1
        assert encoder.embed(["igen"]) is None  # paused: no new child for a while
        assert encoder.failures == 1
    finally:
        encoder.close()


def test_requests_waiting_for_an_engine_that_fails_give_none_without_starting_another(tmp_path):
    """One child hangs; the request queued behind it does not start a new child during the pause."""
    starts = tmp_path / "starts"
    hanging = [sys.executable, "-c",
               f"import sys, time; open({str(starts)!r}, 'a').write('x'); sys.stdin.readline(); time.sleep(60)"]
    encoder = Encoder(command=hanging, processes=1)
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(encoder.embed, ["Elev mår dåligt"], timeout=2.0)
            time.sleep(0.5)  # the second waits for the only engine
            second = pool.submit(encoder.embed, ["Elev är borta"], timeout=2.0)
            assert first.result() is None and second.result() is None
        assert encoder.failures == 1
        assert starts.read_text() == "x"
    finally:
        encoder.close()


@pytest.mark.parametrize("vectors", ["shipped", "none"])
def test_a_router_whose_engine_crashes_routes_on_words(tmp_path, vectors):
    """Built from the shipped vectors (the index exists, every message fails to encode) or with none (no index)."""
    ignore = shutil.ignore_patterns("vectors") if vectors == "none" else None
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge", ignore=ignore)
    kb = load_knowledge(tmp_path / "knowledge", ROOT / "contacts.yaml")
    router = Router(kb, encoder=Encoder(command=CRASHING), cache=EmbeddingCache(tmp_path / "cache"))
    assert (router.semantic is not None) == (vectors == "shipped")
    answer = router.route("Eleven säger att hon vill ta livet av sig, hon sitter hos mig nu", "flen", TUESDAY_MORNING)
    assert answer.risk is Risk.ACUTE and answer.top_topic == "sjalvmord-sjalvskada"


def test_knowledge_base_embeddings_are_cached_on_disk_and_reused(tmp_path):
    texts = ["Elev i åk 7 har hög frånvaro", "Hon är ensam på rasterna"]
    encoder = Encoder()
    try:
        first = EmbeddingCache(tmp_path).embed(texts, encoder)
    finally:
        encoder.close()
    assert first is not None
    # A new process (new cache object) with a broken engine still gets the vectors from disk.
    again = EmbeddingCache(tmp_path).embed(texts, Encoder(command=CRASHING))
    assert again is not None and np.allclose(first, again)


def test_a_knowledge_base_with_shipped_vectors_builds_without_encoding(tmp_path, kb):
    """With knowledge/vectors/ and an empty cache, no text is encoded: an engine that always fails still builds the index."""
    router = Router(kb, encoder=Encoder(command=CRASHING), cache=EmbeddingCache(tmp_path))
    assert router.semantic is not None
    assert not list(tmp_path.iterdir())  # nothing needed caching


def test_validate_writes_the_vectors_of_a_changed_knowledge_base_beside_it(tmp_path):
    """A new phrasing gets its vector in <knowledge>/vectors/ from `lotsen kontrollera`; the rest are not encoded again."""
    import os
    import subprocess
    import sys

    from bot.core.vectors import read_vectors, shipped_vectors, text_key

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    question = "Eleven samlar på kapsyler och pratar bara om dem på lektionerna"
    path = tmp_path / "knowledge" / "topics" / "npf.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["phrasings"].append(question)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "LOTSEN_KNOWLEDGE": str(tmp_path / "knowledge"), "LOTSEN_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "bot", "validate"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "varav 1 nya" in result.stdout
    assert text_key(question) in read_vectors(shipped_vectors(tmp_path / "knowledge"))


def test_a_learned_question_is_never_shipped_beside_the_knowledge(tmp_path, kb):
    """What the curation loop learned is a staff member's question: its vector stays in the cache, not in knowledge/vectors/."""
    from bot.core.vectors import read_vectors, ship_vectors, shipped_vectors, text_key
    from bot.knowledge.loader import load_knowledge

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    learned = "Hur gör vi med en elev som alltid cyklar för fort på skolgården?"
    (tmp_path / "learned.yaml").write_text(yaml.safe_dump({"offtopic": [learned]}, allow_unicode=True), encoding="utf-8")
    with_learned = load_knowledge(tmp_path / "knowledge", ROOT / "contacts.yaml", tmp_path / "learned.yaml")
    assert learned in with_learned.smalltalk.offtopic
    router = Router(with_learned, encoder=Encoder(), cache=EmbeddingCache(tmp_path / "cache"))
    shipped = ship_vectors(with_learned, router.semantic.known)
    assert not shipped.written  # the shipped file already holds exactly the curated texts
    assert text_key(learned) not in read_vectors(shipped_vectors(tmp_path / "knowledge"))
