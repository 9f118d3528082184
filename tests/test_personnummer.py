"""A pupil's personnummer is found in every form staff write it, and nothing else is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from personnummer import personnummer as oracle

from bot.text.personnummer import PLACEHOLDER, contains, find, luhn_ok, redact

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
        "0104072385",  # ten digits in a row from 0, a wrong check digit: could be a phone number
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
        elif not sep and number.startswith("0"):
            assert not found, number  # bare digits from 0 (a phone number's first digit) need the check digit
        elif not sep:
            assert found, number  # ten digits with a date that no phone number can be: a mistyped personnummer



IMPROVISED = ["2005-07-18-2384", "05 07 18-2384", "05.07.18-2384", "050718/2384", "0507\u200b18-2384",
              "050718\u00ad-2384", "05\u2060071823\u200d84", "2005\u200e0718\ufeff2384"]


@pytest.mark.parametrize("number", IMPROVISED)
def test_improvised_forms_and_hidden_characters_are_redacted(number):
    """Divided dates, a slash, and invisible characters inside do not hide a number."""
    cleaned = redact(f"Eleven {number} har hög frånvaro")
    assert cleaned == f"Eleven {PLACEHOLDER} har hög frånvaro"


def test_a_divided_date_with_a_time_needs_the_check_digit():
    """"2026-11-23 1400" is a date and a time unless the check digit says otherwise."""
    assert not contains("Möte 2026-11-23 1401")  # 2611231401 fails Luhn
    assert not contains("Ring 08 12 12 1212 om du vill")  # Luhn fails: a phone number stays


# Invisible Unicode format characters (category Cf) people paste, on purpose or not.
HIDDEN = ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u2063"]


def _with_check(nine: str) -> str:
    return next(nine + str(c) for c in range(10) if luhn_ok(nine + str(c)))


@settings(max_examples=300, deadline=None)
@given(
    year=st.integers(1900, 2025), mm=st.integers(1, 12), dd=st.integers(1, 28), serial=st.integers(1, 999),
    coord=st.booleans(),
    form=st.sampled_from(["iso", "spaced", "dotted", "slashed", "plain"]),
    hidden=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(HIDDEN)), max_size=3),
)
def test_every_improvised_form_of_a_valid_number_is_redacted(year, mm, dd, serial, coord, form, hidden):
    """Random valid numbers, written in each improvised form with invisible characters inside, never survive."""
    day = dd + 60 if coord else dd
    ten = _with_check(f"{year % 100:02d}{mm:02d}{day:02d}{serial:03d}")
    yy, m2, d2, last = ten[:2], ten[2:4], ten[4:6], ten[6:]
    number = {
        "iso": f"{year}-{m2}-{d2}-{last}",
        "spaced": f"{yy} {m2} {d2}-{last}",
        "dotted": f"{yy}.{m2}.{d2}-{last}",
        "slashed": f"{yy}{m2}{d2}/{last}",
        "plain": f"{yy}{m2}{d2}-{last}",
    }[form]
    for position, char in sorted(hidden, reverse=True):
        position = 1 + position % (len(number) - 1)  # strictly inside the number
        number = number[:position] + char + number[position:]
    cleaned = redact(f"elev {number} i åk 5")
    assert cleaned == f"elev {PLACEHOLDER} i åk 5", (number, cleaned)
