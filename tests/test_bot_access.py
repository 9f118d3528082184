"""Access checks: buttons cannot reach another user's question, and private data stays out of groups.

Button data come from the client and can be forged: an attacker who walks
update ids through `rk:`/`rt:`/`fb:` data must learn nothing and change
nothing. Admin commands and /mina answer only in a private chat.
"""

from __future__ import annotations

import sqlite3

from conftest import ADMIN_ID
from fakebotapi import FakeBotAPI, FakeUser, Sent

from bot.telegram.access import PRIVATE_ONLY
from bot.telegram.questions import GONE, NOT_YOURS

ABSENCE = "Eleven har hög frånvaro och vill inte komma till skolan, vad gör vi?"


def _forge(api: FakeBotAPI, user: FakeUser, message: Sent, data: str) -> int:
    """A callback query with any data, as a modified client can send it."""
    query = {"id": str(next(api._callback_ids)), "from": {"id": user.id, "is_bot": False, "first_name": "M"},
             "chat_instance": f"ci{user.chat_id}", "data": data, "message": message.payload}
    return api.push_update({"callback_query": query})


def _feedback(db_path) -> list[int | None]:
    db = sqlite3.connect(db_path)
    try:
        return [value for (value,) in db.execute("SELECT feedback FROM questions ORDER BY id")]
    finally:
        db.close()


async def test_walking_update_ids_through_clarify_and_feedback_buttons_reveals_nothing(fake_api, lotsen):
    """Mallory forges rk:/rt:/fb: data for ids around Vera's question: no answer from it, no feedback stored."""
    vera, mallory = fake_api.user(8001, "Vera"), fake_api.user(8002, "Mallory")
    victim_id = await vera.send(ABSENCE)
    answer = await vera.next_message()
    assert any(data.startswith(f"rk:{victim_id}:") for _, data in answer.buttons())
    await lotsen.idle()
    own_id = await mallory.send("Hej")
    own = await mallory.next_message()
    for update_id in set(range(victim_id - 2, victim_id + 4)) - {own_id}:
        for data in (f"rk:{update_id}:strangnas", f"rt:{update_id}:skolfranvaro", f"fb:{update_id}:-1"):
            _forge(fake_api, mallory, own, data)
    await lotsen.idle()
    texts = [m.text or "" for m in mallory.messages[1:]]
    assert texts and all(text == GONE for text in texts), texts
    assert not any("skolfrånvaro" in text.lower() for text in texts)
    feedback_answers = [a.get("text") for a in fake_api.callback_answers if a.get("text") != GONE]
    assert "Tack för återkopplingen!" not in feedback_answers
    assert set(_feedback(lotsen.services.settings.db_path)) == {None}
    # Vera's own buttons still work for her.
    rerouted = await vera.click(answer, answer.button("Strängnäs"))
    assert "Strängnäs" in rerouted.text


async def test_unknown_button_data_is_answered_so_nothing_spins(fake_api, lotsen):
    """A press with data no handler knows is still answered (neutrally)."""
    nils = fake_api.user(8003)
    own = await nils.ask("Hej")
    _forge(fake_api, nils, own, "xyz:1")
    _forge(fake_api, nils, own, "fb:notanumber")
    await lotsen.idle()
    assert [a.get("text") for a in fake_api.callback_answers] == [NOT_YOURS, NOT_YOURS]


async def test_export_and_mina_in_a_group_post_nothing_private(fake_api, lotsen):
    """/export by an admin in a group sends no file there; /mina and /statistik neither: a pointer to a private chat."""
    admin = fake_api.user(ADMIN_ID, "Processledare")
    group = fake_api.group(-5002, admin)
    for command in ("/export", "/mina", "/statistik", "/obesvarade"):
        reply = await group.ask(f"{command}@{fake_api.username}")
        assert reply.text == PRIVATE_ONLY, command
    await lotsen.idle()
    assert fake_api.calls_of("sendDocument") == [] and fake_api.calls_of("sendPhoto") == []
    assert (await admin.ask("/export")).method == "sendDocument"  # in private it still works
