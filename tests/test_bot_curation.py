"""The curation loop in Telegram: /obesvarade with topic buttons, the learned overlay, undo, intended declines."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from conftest import ADMIN_ID

from bot.telegram.admin import NOT_ADMIN

MISS = "Eleven vill alltid sitta längst bak i bussen när vi åker iväg"
SALARY = "När kommer lönespecifikationen för december?"


@pytest.fixture
async def curating(start_bot, bot_settings, tmp_path):
    """Lotsen with its learned overlay in tmp_path/learned.yaml (LOTSEN_LEARNED)."""
    settings = dataclasses.replace(bot_settings, learned_file=tmp_path / "learned.yaml")
    async with start_bot(settings, load_kb=True) as bot:
        yield bot


async def _items(admin, count):
    header = await admin.ask("/obesvarade")
    return header, [await admin.next_message() for _ in range(count)]


async def test_a_tap_teaches_the_topic_and_the_knowledge_base_reloads(fake_api, curating, tmp_path):
    """Declined question → admin taps a suggested topic → learned.yaml and the live router have the phrasing."""
    svc = curating.services
    assert svc.router.route(MISS).kind == "declined"
    await fake_api.user(7101).ask(MISS)
    await curating.idle()
    admin = fake_api.user(ADMIN_ID)
    header, (item,) = await _items(admin, 1)
    assert "1 missar" in header.text
    assert "längst bak i bussen" in item.text and "avböjd" in item.text
    topics = [(label, data) for label, data in item.buttons() if ":t:" in data]
    assert 1 <= len(topics) <= 3
    assert {label for label, _ in item.buttons()} >= {"Utanför Lotsens område", "Ignorera"}

    label, data = topics[0]
    topic = data.rsplit(":", 1)[1]
    await admin.press(item, data)
    await fake_api.wait_for(lambda: "Tillagd som formulering" in (item.text or ""))
    assert label in item.text
    learned = yaml.safe_load((tmp_path / "learned.yaml").read_text(encoding="utf-8"))
    assert learned["phrasings"] == {topic: [MISS]}
    assert MISS in svc.kb.topics[topic].phrasings  # reloaded knowledge base …
    assert MISS in svc.router.kb.topics[topic].phrasings  # … and the router built from it
    assert svc.router.route(MISS).top_topic == topic  # the same question now routes there
    assert svc.router.route(MISS.replace("Eleven", "En elev i sexan")).top_topic == topic  # and a close paraphrase
    act = (await svc.storage.db.read("SELECT * FROM curation_acts"))[0]
    assert act["admin_key"] == svc.user_key(ADMIN_ID) and act["at"] and act["action"] == "topic"
    assert "Inget att kurera" in (await admin.ask("/obesvarade")).text

    await admin.press(item, item.button("Ångra"))
    await fake_api.wait_for(lambda: (item.text or "").startswith("Ångrat"))
    assert yaml.safe_load((tmp_path / "learned.yaml").read_text(encoding="utf-8")) in ({}, None)
    assert MISS not in svc.kb.topics[topic].phrasings
    undone = (await svc.storage.db.read("SELECT * FROM curation_acts"))[0]
    assert undone["undone_at"] and undone["text"] is None  # an undone act keeps no question text
    header, (again,) = await _items(admin, 1)
    assert "längst bak i bussen" in again.text


async def test_off_topic_and_ignore_and_angra(fake_api, curating, tmp_path):
    """"Utanför Lotsens område" adds an off-topic example; "Ignorera" hides; /angra undoes the latest act."""
    svc = curating.services
    asker = fake_api.user(7102)
    await asker.ask("Kan man odla tomater på skolgården?")
    await asker.ask(MISS)
    await curating.idle()
    admin = fake_api.user(ADMIN_ID)
    _, (newest, oldest) = await _items(admin, 2)
    assert "bussen" in newest.text and "tomater" in oldest.text

    await admin.press(oldest, oldest.button("Utanför"))
    await fake_api.wait_for(lambda: "utanför Lotsens område" in (oldest.text or ""))
    learned = yaml.safe_load((tmp_path / "learned.yaml").read_text(encoding="utf-8"))
    assert learned == {"offtopic": ["Kan man odla tomater på skolgården?"]}
    assert "Kan man odla tomater på skolgården?" in svc.kb.smalltalk.offtopic

    await admin.press(newest, newest.button("Ignorera"))
    await fake_api.wait_for(lambda: "Dold" in (newest.text or ""))
    assert "Inget att kurera" in (await admin.ask("/obesvarade")).text

    undone = await admin.ask("/angra")  # the latest act: the ignore
    assert undone.text.startswith("Ångrat: att frågan doldes")
    _, (shown,) = await _items(admin, 1)
    assert "bussen" in shown.text
    undone = await admin.ask("/angra")  # then the off-topic example
    assert "exemplet på frågor utanför" in undone.text
    assert "Kan man odla tomater på skolgården?" not in svc.kb.smalltalk.offtopic
    assert (await admin.ask("/angra")).text == "Det finns inget att ångra."


async def test_intended_declines_are_listed_apart_and_thumbs_down_are_included(fake_api, curating):
    """Salary questions come after the real misses under their own heading; a 👎 answer is listed too."""
    svc = curating.services
    await svc.storage.users.save(svc.user_key(7103), municipality="flen")
    asker = fake_api.user(7103)
    await asker.ask(SALARY)
    answer = await asker.ask("Eleven har hög frånvaro och vill inte komma till skolan")
    await asker.press(answer, next(d for _, d in answer.buttons() if d.startswith("fb:") and d.endswith(":-1")))
    await fake_api.wait_for(lambda: len(fake_api.callback_answers) == 1)
    await asker.ask(MISS)
    await curating.idle()
    admin = fake_api.user(ADMIN_ID)
    header, (first, second, apart, salary) = await _items(admin, 4)
    assert "2 missar och 1 avsiktligt avböjda" in header.text
    assert "bussen" in first.text
    assert "👎" in second.text and "frånvaro" in second.text
    assert "Avböjda med avsikt" in apart.text
    assert "lönespecifikationen" in salary.text


async def test_only_admins_can_curate(fake_api, curating, tmp_path):
    """Someone else gets the polite no for /obesvarade and /angra, and a forwarded button does nothing."""
    other = fake_api.user(7104)
    assert (await other.ask("/obesvarade")).text == NOT_ADMIN
    assert (await other.ask("/angra")).text == NOT_ADMIN
    await other.ask(MISS)
    await curating.idle()
    _, (item,) = await _items(fake_api.user(ADMIN_ID), 1)
    await other.press(item, item.button("Utanför"))
    await fake_api.wait_for(lambda: any(a.get("text") == NOT_ADMIN for a in fake_api.callback_answers))
    assert not (tmp_path / "learned.yaml").exists()
    assert await curating.services.storage.curation.queue() != []


async def test_an_unwritable_overlay_is_reported_and_nothing_is_lost(fake_api, start_bot, bot_settings, tmp_path):
    """LOTSEN_LEARNED where no file can be written: the admin is told how to fix it; the question stays listed."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    settings = dataclasses.replace(bot_settings, learned_file=blocker / "learned.yaml")
    async with start_bot(settings, load_kb=True) as bot:
        await fake_api.user(7105).ask(MISS)
        await bot.idle()
        admin = fake_api.user(ADMIN_ID)
        _, (item,) = await _items(admin, 1)
        await admin.press(item, item.button("Utanför"))
        reply = await admin.next_message()
        assert "Det gick inte att lägga till" in reply.text and "LOTSEN_LEARNED" in reply.text
        assert len(await bot.services.storage.curation.queue()) == 1


async def test_a_curated_question_teaches_its_words_never_a_name_or_a_placeholder(fake_api, curating, tmp_path):
    """A question that named a child is learned without the name and without "[namn]"."""
    await fake_api.user(7105).ask("Tuva Lindqvist vill alltid sitta längst bak i bussen när vi åker iväg")
    await curating.idle()
    admin = fake_api.user(ADMIN_ID)
    _, (item,) = await _items(admin, 1)
    assert "[namn] [namn] vill alltid sitta" in item.text
    data = next(d for _, d in item.buttons() if ":t:" in d)
    await admin.press(item, data)
    await fake_api.wait_for(lambda: "Tillagd som formulering" in (item.text or ""))
    learned = (tmp_path / "learned.yaml").read_text(encoding="utf-8")
    assert "vill alltid sitta längst bak i bussen" in learned
    assert "Tuva" not in learned and "Lindqvist" not in learned and "[namn]" not in learned
