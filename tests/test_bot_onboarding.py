"""Getting started in Telegram: /start, role and municipality, deep links, /kommun, /hjalp, /om.

Every test runs the real bot against the fake Bot API (tests/fakebotapi.py)
with a real SQLite file.
"""

from __future__ import annotations

from bot.telegram.app import COMMANDS


async def test_start_sets_the_swedish_command_menu(fake_api, lotsen):
    """At start the bot registers its Swedish command menu with setMyCommands."""
    assert fake_api.commands is not None
    assert [c["command"] for c in fake_api.commands] == [name for name, _ in COMMANDS]
    assert any(c["command"] == "konsultation" for c in fake_api.commands)


async def test_onboarding_by_buttons_remembers_role_and_municipality(fake_api, lotsen):
    """/start explains Lotsen (not for emergencies: 112), then role and municipality are chosen by buttons."""
    anna = fake_api.user(1001, "Anna")
    intro = await anna.ask("/start")
    assert "Lotsen" in intro.text and "112" in intro.text
    ask_role = await anna.next_message()
    assert ask_role.buttons() == [
        ("Lärare/mentor", "role:larare"), ("Elevhälsa", "role:elevhalsa"),
        ("Rektor/förskolechef", "role:rektor"), ("Annan", "role:annan"),
    ]
    ask_municipality = await anna.click(ask_role, "role:larare")
    assert "kommun" in ask_municipality.text
    assert ("Flen", "kom:flen") in ask_municipality.buttons()
    assert len(ask_municipality.buttons()) == 9
    ready = await anna.click(ask_municipality, "kom:flen")
    assert "Klart" in ready.text

    profile = await lotsen.services.storage.users.get(lotsen.services.user_key(1001))
    assert (profile.role, profile.municipality) == ("larare", "flen")
    assert ask_role.text == "Roll: Lärare/mentor ✓"  # the button message was edited in place
    assert ask_municipality.text == "Kommun: Flen ✓"


async def test_every_button_fits_in_64_bytes_of_ascii(fake_api, lotsen):
    """callback_data is short ASCII, well within Telegram's 64-byte limit."""
    anna = fake_api.user(1002)
    await anna.ask("/start")
    ask_role = await anna.next_message()
    ask_municipality = await anna.click(ask_role, "role:elevhalsa")
    for message in (ask_role, ask_municipality):
        for _, data in message.buttons():
            assert data.isascii() and len(data.encode()) <= 64


async def test_deep_link_preselects_the_municipality(fake_api, lotsen):
    """`/start kommun_flen` (t.me/<bot>?start=kommun_flen) sets Flen, so only the role is asked."""
    bo = fake_api.user(1003, "Bo")
    intro = await bo.ask("/start kommun_flen")
    assert "Flen" in intro.text
    ask_role = await bo.next_message()
    ready = await bo.click(ask_role, "role:rektor")
    assert "Klart" in ready.text
    profile = await lotsen.services.storage.users.get(lotsen.services.user_key(1003))
    assert (profile.role, profile.municipality) == ("rektor", "flen")


async def test_kommun_with_a_name_is_fuzzy(fake_api, lotsen):
    """`/kommun nykoping` (no ö) changes the municipality to Nyköping."""
    cia = fake_api.user(1004)
    reply = await cia.ask("/kommun nykoping")
    assert "Nyköping" in reply.text
    profile = await lotsen.services.storage.users.get(lotsen.services.user_key(1004))
    assert profile.municipality == "nykoping"


async def test_kommun_without_a_name_shows_the_buttons(fake_api, lotsen):
    """/kommun alone shows the nine municipalities as buttons."""
    dan = fake_api.user(1005)
    reply = await dan.ask("/kommun")
    assert len(reply.buttons()) == 9
    confirmed = await dan.click(reply, "kom:trosa")
    assert "Trosa" in reply.text or "Klart" in confirmed.text


async def test_unknown_municipality_is_escaped_and_the_buttons_shown(fake_api, lotsen):
    """An unknown name is quoted back HTML-escaped, with the buttons to choose from."""
    eva = fake_api.user(1006)
    reply = await eva.ask("/kommun <b>Gotham</b> & co")
    assert "&lt;b&gt;Gotham&lt;/b&gt; &amp; co" in reply.text
    assert len(reply.buttons()) == 9


async def test_help_and_about(fake_api, lotsen):
    """/hjalp gives examples and commands; /om says what is stored and for how long."""
    fia = fake_api.user(1007)
    help_text = (await fia.ask("/hjalp")).text
    assert "/konsultation" in help_text and "112" in help_text
    about = (await fia.ask("/om")).text
    assert "365 dagar" in about and "pseudonym" in about


async def test_profile_survives_a_restart(fake_api, start_bot):
    """Role and municipality are kept in SQLite: after a restart the answer is for the user's municipality."""
    gun = fake_api.user(1008)
    async with start_bot():
        await gun.ask("/start")
        ask_role = await gun.next_message()
        ask_municipality = await gun.click(ask_role, "role:larare")
        await gun.click(ask_municipality, "kom:vingaker")
    async with start_bot() as bot:
        answer = await gun.ask("Eleven har hög frånvaro och vill inte komma till skolan")
        assert "Vingåker" in answer.text
        profile = await bot.services.storage.users.get(bot.services.user_key(1008))
        assert profile.role == "larare"
