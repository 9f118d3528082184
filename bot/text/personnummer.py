"""Finding and redacting Swedish personal identity numbers (personnummer, samordningsnummer).

Lotsen must never store or log a pupil's personnummer, so every adapter calls
`redact` before anything is written. Detection follows Skatteverket's format:
YYMMDD-NNNC or YYYYMMDD-NNNC, separator '-', '+' or none (a space is tolerated),
samordningsnummer with day + 60, and the Luhn check digit over the last ten
digits. Also the forms people improvise: a divided date (2005-07-18-2384,
05 07 18-2384, 05.07.18-2384), a slash (050718/2384), and invisible format
characters (zero-width space, soft hyphen …) anywhere inside.

Policy, erring on the side of the pupil: a number written the way people write
personnummer — with a separator (YYMMDD-NNNN) or with a century (YYYYMMDDNNNN)
— and a valid date is redacted even when its check digit is wrong, because a
mistyped personnummer is still personal data. Ten digits in a row without a
separator also look like a mobile number (0701234567 has a valid "date"), so
those need the Luhn check as well.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PLACEHOLDER = "[personnummer]"

_DASHES = "\u2010-\u2015\u2212"
_PATTERN = re.compile(
    r"(?<![\d])"
    r"(?P<century>(?:18|19|20))?"
    # The date may be written with the same separator between its parts: 2005-07-18, 05 07 18, 05.07.18.
    rf"(?P<yy>\d{{2}})(?P<ds>[-./ {_DASHES}]?)(?P<mm>\d{{2}})(?P=ds)(?P<dd>\d{{2}})"
    rf"[ \t]?(?P<sep>[-+/{_DASHES}])?[ \t]?"
    r"(?P<serial>\d{3})(?P<check>\d)"
    r"(?![\d])"
)


@dataclass(frozen=True, slots=True)
class Match:
    """One personnummer found in a text: its span in the NFKC-normalised text."""

    start: int
    end: int
    samordningsnummer: bool


def luhn_ok(ten_digits: str) -> bool:
    """True when the tenth digit is the Luhn check digit of the first nine."""
    total = 0
    for i, ch in enumerate(ten_digits[:9]):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10 == int(ten_digits[9])


def _candidate(m: re.Match[str]) -> Match | None:
    month, day = int(m["mm"]), int(m["dd"])
    if not 1 <= month <= 12:
        return None
    samordning = 61 <= day <= 91
    if not (1 <= day <= 31 or samordning):
        return None
    if m["serial"] == "000":
        return None
    ten = m["yy"] + m["mm"] + m["dd"] + m["serial"] + m["check"]
    # A separator before the serial, or a century on an undivided date; a divided date
    # without that separator (2026-11-23 1400) may be a date and a time: Luhn decides.
    written_like_personnummer = bool(m["sep"]) or (bool(m["century"]) and not m["ds"])
    if not written_like_personnummer and not luhn_ok(ten):
        return None
    return Match(m.start(), m.end(), samordning)


def _normalise(text: str) -> str:
    # Fullwidth and other compatibility digits become ASCII digits, odd spaces plain ones;
    # invisible format characters (zero-width space, soft hyphen, joiners, direction marks)
    # are dropped, so they cannot hide a number.
    norm = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in norm if unicodedata.category(ch) != "Cf")


def find(text: str) -> list[Match]:
    """Returns every personnummer in `text` (spans refer to the NFKC form of the text)."""
    norm = _normalise(text)
    return [c for m in _PATTERN.finditer(norm) if (c := _candidate(m)) is not None]


def contains(text: str) -> bool:
    """True when the text carries at least one personnummer."""
    return bool(find(text))


def redact(text: str) -> str:
    """Returns the text with every personnummer replaced by "[personnummer]".

    The text is NFKC-normalised only where something was found, so ordinary
    messages come back unchanged.
    """
    matches = find(text)
    if not matches:
        return text
    norm = _normalise(text)
    out, last = [], 0
    for m in matches:
        out.append(norm[last : m.start])
        out.append(PLACEHOLDER)
        last = m.end
    out.append(norm[last:])
    return "".join(out)
