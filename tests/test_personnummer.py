"""A pupil's personnummer is found in every form staff write it, and nothing else is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from personnummer import personnummer as oracle

from bot.personnummer import PLACEHOLDER, contains, find, luhn_ok, redact

# Luhn-valid numbers in every written form: ordinary, samordningsnummer, 100+.
VALID_FORMS = [
    "811228-9874",
    "8112289874",
    "19811228-9874",
    "198112289874",
    "701063-2391",  # samordningsnummer (day 03 + 60)
    "19701063-2391",
    "121212+1212",  # a person over 100 uses '+'
    "121212 1212",
    "８１１２２８－９８７４",  # fullwidth digits and dash
    # Written like a personnummer but with a wrong check digit: still personal data.
    "110407-2384",
    "20110407-2384",
]


@pytest.mark.parametrize("number", VALID_FORMS)
def test_every_written_form_is_found_and_redacted(number):
    text = f"Gäller eleven {number}, hon har hög frånvaro."
    assert contains(text)
    cleaned = redact(text)
    assert PLACEHOLDER in cleaned
    digits = [c for c in number if c.isdigit()]
    assert "".join(digits[-4:]) not in cleaned.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "Ring 070-174 06 12 eller 08-465 004 37",
        "Mötet är 2026-11-23 kl 14",
        "1104072385",  # ten digits in a row with a wrong check digit (could be a phone number)
        "0701234567",  # a mobile number whose first six digits look like a date
        "111307-2384",  # month 13
        "Frånvaro 60 % sedan vecka 45",
        "Ordernummer 1234567890123",
    ],
)
def test_phone_numbers_dates_and_invalid_numbers_are_left_alone(text):
    assert not contains(text)
    assert redact(text) == text


def test_luhn_matches_skatteverkets_rule():
    assert luhn_ok("8112289874")
    assert not luhn_ok("8112289875")


def test_two_numbers_in_one_message_are_both_redacted():
    text = "Syskonen 811228-9874 och 090312-4471"
    assert redact(text) == f"Syskonen {PLACEHOLDER} och {PLACEHOLDER}"
    assert len(find(text)) == 2


@settings(max_examples=300, deadline=None)
@given(
    yy=st.integers(0, 99), mm=st.integers(1, 12), dd=st.integers(1, 28),
    serial=st.integers(1, 999), sep=st.sampled_from(["", "-", "+"]), coord=st.booleans(),
)
def test_detector_agrees_with_the_personnummer_library(yy, mm, dd, serial, sep, coord):
    day = dd + 60 if coord else dd
    nine = f"{yy:02d}{mm:02d}{day:02d}{serial:03d}"
    for check in range(10):
        number = f"{nine[:6]}{sep}{nine[6:]}{check}"
        found = contains(f"elev {number} i åk 5")
        if oracle.valid(number):
            assert found, number  # every valid number is caught
        elif not sep:
            assert not found, number  # bare digits need the check digit

