"""Finding and redacting Swedish personal identity numbers (personnummer, samordningsnummer).

Lotsen must never store or log a pupil's personnummer, so every adapter calls
`redact` before anything is written. Detection follows Skatteverket's format:
YYMMDD-NNNC or YYYYMMDD-NNNC, samordningsnummer with day + 60, and the Luhn
check digit over the last ten digits — whatever stands between the digits, as
long as it is no letter and at most MAX_GAP characters: the forms people
improvise (2005-07-18-2384, 05 07 18 23 84, 050718.2384, 050718:2384,
050718_2384, 050718-23 84, a line break before the serial, a combining accent
or an invisible format character inside).

Policy, erring on the side of the pupil: any 10 or 12 digits with a valid date
and check digit are one, however they are separated; a number grouped the way
people write personnummer — anything between the date and the serial
(YYMMDD-NNNN, YYMMDD.NNNN), the date in pairs, or a century on an undivided date
(YYYYMMDDNNNN) — with a valid date is redacted even when its check digit is
wrong, because a mistyped personnummer is still personal data. Ten digits in a
row, or grouped like a phone number (070-123 45 67), have a valid "date" often
enough that they need the check digit.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

PLACEHOLDER = "[personnummer]"

# Between two digits of one number: at most this many characters that are neither letters nor
# digits (spaces, dots, colons, underscores, dashes, a line break, a combining accent …).
MAX_GAP = 3
_SEPARATORS = frozenset("-+/\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


@dataclass(frozen=True, slots=True)
class Match:
    """One personnummer found in a text: its span in the NFKC-normalised text."""

    start: int
    end: int
    samordningsnummer: bool
    written_like: bool = True  # grouped as personnummer are; False: only its check digit says so

def luhn_ok(ten_digits: str) -> bool:
    """True when the tenth digit is the Luhn check digit of the first nine."""
    total = 0
    for i, ch in enumerate(ten_digits[:9]):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10 == int(ten_digits[9])


def normalise(text: str) -> str:
    """NFKC without invisible format characters, nor combining marks on digits: the form every span refers to."""
    # Fullwidth and other compatibility digits become ASCII digits, odd spaces plain ones;
    # invisible format characters (zero-width space, soft hyphen, joiners, direction marks)
    # are dropped, so they cannot hide a number.
    # A combining mark typed on a digit ("07\u0301") hides nothing either.
    norm = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for ch in norm:
        category = unicodedata.category(ch)
        if category == "Cf" or (category == "Mn" and out and out[-1].isdigit()):
            continue
        out.append(ch)
    return "".join(out)


def _runs(text: str) -> list[list[int]]:
    """Positions of the digits of each number: digits apart by at most MAX_GAP non-alphanumerics."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, ch in enumerate(text):
        if ch.isdigit():
            if current and i - current[-1] - 1 > MAX_GAP:
                runs.append(current)
                current = []
            current.append(i)
        elif ch.isalpha():
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _valid_date(ten: str) -> tuple[bool, bool]:
    """(a valid date YYMMDD, and a samordningsnummer day) of the first six digits; serial 000 is never valid."""
    month, day = int(ten[2:4]), int(ten[4:6])
    samordning = 61 <= day <= 91
    return (1 <= month <= 12 and (1 <= day <= 31 or samordning) and ten[6:9] != "000"), samordning


def _written_like_personnummer(text: str, pos: list[int]) -> bool:
    """Digits grouped the way personnummer are written (see the module docstring).

    Ten digits: anything between the date and the serial (050718-2384, 050718.2384,
    050718 2384, a line break), or the date in pairs (05 07 18 23 84) — unless they are
    grouped like a Stockholm or mobile number (08 12 12 1212, 070-123 45 67). Twelve:
    a dash or plus before the serial, or no separator at all (200507182384); a divided
    date with a space before four digits is a date and a time (2026-11-23 1400).
    """
    gaps = [text[a + 1 : b] for a, b in zip(pos, pos[1:], strict=False)]
    digits = "".join(text[p] for p in pos)
    boundary = gaps[len(pos) - 5]  # between the date's last digit and the serial
    divided = {n for n, gap in enumerate(gaps) if gap}
    if len(pos) == 12:
        # 200508122727, 20050812-2727, 20050812 2727 (an undivided date, then the serial); a divided
        # date needs the dash: "2026-11-23 1400" is a date and a time.
        return any(ch in _SEPARATORS for ch in boundary) or divided <= {7, 9}
    first_group = next((n + 1 for n, gap in enumerate(gaps) if gap), len(pos))
    if digits.startswith(("07", "08")) and first_group <= 4:
        return False
    if not digits.startswith("0") and not divided:
        return True  # ten digits in a row that no phone number can be (those begin with 0)
    date_in_pairs = {1, 3, 5} <= divided <= {1, 3, 5, 7}  # 05 07 18 23 84, 05.07.18.2384
    return (bool(boundary) and divided <= {5, 7}) or date_in_pairs  # 050718-2384, 050718-23 84


def _window(text: str, pos: list[int], i: int) -> Match | None:
    """The personnummer whose digits start at pos[i] (12 digits with a century, or 10), if any.

    A number is never cut inside a group of digits: "2026-11-23" holds no "26-11-23 …".
    """
    if i > 0 and pos[i] - pos[i - 1] == 1:
        return None
    for width in (12, 10):
        end = i + width
        if end > len(pos) or (end < len(pos) and pos[end] - pos[end - 1] == 1):
            continue
        digits = "".join(text[p] for p in pos[i : i + width])
        if width == 12 and digits[:2] not in ("18", "19", "20"):
            continue
        ten = digits[-10:]
        ok, samordning = _valid_date(ten)
        if not ok:
            continue
        written_like = _written_like_personnummer(text, pos[i : i + width])
        whole = i == 0 and end == len(pos)  # a check digit alone decides only a number that stands alone
        if written_like or (whole and luhn_ok(ten)):
            return Match(pos[i], pos[i + width - 1] + 1, samordning, written_like)
    return None


def find(text: str) -> list[Match]:
    """Returns every personnummer in `text` (spans refer to the NFKC form of the text)."""
    norm = normalise(text)
    found: list[Match] = []
    for pos in _runs(norm):
        i = 0
        while i < len(pos):
            match = _window(norm, pos, i)
            if match is None:
                i += 1
                continue
            found.append(match)
            i += next(n for n in range(1, len(pos) - i + 1) if i + n == len(pos) or pos[i + n] >= match.end)
    return found


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
    norm = normalise(text)
    out, last = [], 0
    for m in matches:
        out.append(norm[last : m.start])
        out.append(PLACEHOLDER)
        last = m.end
    out.append(norm[last:])
    return "".join(out)
