"""Identifiers written in a fixed shape: phone numbers, e-mail addresses, street addresses and car plates.

Each finder returns spans (start, end) in the text it is given. They err on the
side of the child: a number written like a Swedish phone number is taken for one
even if it is a switchboard, unless it is a national service number (112, 1177,
114 14, 116 111, 020-…, 077x-…) or one of the knowledge base's own contacts
(`keep_digits`), which people must be able to quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

Span = tuple[int, int]

# -- phone numbers -------------------------------------------------------------------------

# A run that starts like a Swedish number (+46, 0046 or 0, perhaps in brackets) and goes on
# with digits and the separators people type between them.
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?46|0046|\(?0)[\d \t\-–()/.]{5,18}\d(?!\d)")
# Dates and times look like numbers too: 08.00-16.30, 01.12.2026, 2026-11-23.
_TIME_RANGE = re.compile(r"^\(?\d{1,2}[.:]\d{2}\s*[-–]\s*\d{1,2}[.:]\d{2}\)?$")
_DATE = re.compile(r"^\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})$")
# National numbers that are never a family's own: free and shared-cost numbers, and 010 (companies and
# authorities, e.g. Giftinformationscentralen 010-456 67 00).
_SERVICE_PREFIXES = ("010", "020", "0200", "0771", "0772", "0774", "0775", "0900", "0939", "0944")


def phones(text: str, keep_digits: Collection[str] = ()) -> list[Span]:
    """Swedish phone numbers in every form people write them (070-123 45 67, +46 70 …, (0155) 12 34 56)."""
    out = []
    for m in _PHONE.finditer(text):
        raw = m.group().rstrip(" -–(/.")
        digits = re.sub(r"\D", "", raw)
        if digits.startswith("0046"):
            national = "0" + digits[4:]
        elif raw.lstrip("( ").startswith("+"):
            national = "0" + digits[2:]
        else:
            national = digits
        if national.startswith("00"):
            national = national[1:]  # +46 (0)70 …
        if not 8 <= len(national) <= 11 or national[1] == "0":
            continue
        if _TIME_RANGE.match(raw.strip()) or _DATE.match(raw.strip()):
            continue
        if national.startswith(_SERVICE_PREFIXES) or national in keep_digits:
            continue
        out.append((m.start(), m.start() + len(raw)))
    return out


# -- e-mail ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def emails(text: str) -> list[Span]:
    """E-mail addresses."""
    return [m.span() for m in _EMAIL.finditer(text)]


# -- street addresses ------------------------------------------------------------------------

# How Swedish street names end ("Storgatan", "Björkvägen", "Ekbacken" …), also typed without å/ä/ö.
_STREET_ENDINGS = (
    "gatan", "gata", "vägen", "vagen", "väg", "vag", "gränd", "gränden", "grand", "granden", "stigen",
    "backen", "backe", "torget", "torg", "platsen", "plan", "allén", "allen", "allé", "alle", "leden",
    "ringen", "slingan", "liden", "höjden", "hojden", "gården", "garden", "esplanaden", "kajen", "parken",
    "hagen", "ängen", "angen", "udden", "berget", "dalen", "vreten", "stråket", "straket", "bryggan",
    "stranden", "viken", "holmen", "lunden", "tået", "taet", "kullen", "malmen", "gärdet", "gardet",
)
_NUMBER = r"\d{1,4}(?:\s?[A-H]\b|[a-h]\b)?"  # an entrance letter: 3B, 3 B; never "18 i Torshälla"
# A floor or where in the house: "3 tr", "1 tr ned", "nb" (nedre botten), "ög", "bv".
_FLOOR_ONLY = r"\d{1,2}\s?(?:tr|trappor)\b(?:\s?(?:ned|upp))?|nb\b|ög\b|og\b|bv\b|n\.b\."
_FLAT_ONLY = r"(?:lgh|lägenhet|lagenhet|lgh\.|lägenhetsnummer)\s*\d{3,4}"
_ENTRANCE_ONLY = r"(?:uppgång|uppg\.?|ingång|port|entré)\s*[A-Ha-h]\b"  # "uppgång B"
# After the number, in any order: the floor ("3 tr"), the flat ("lgh 1203"), the entrance ("uppgång B").
_DETAILS = r"(?:,?\s*(?:" + _FLOOR_ONLY + "|" + _FLAT_ONLY + "|" + _ENTRANCE_ONLY + r")){0,3}"
# "641 30", "SE-611 34"; the town after it stays (a municipality or locality is no identifier, and routing needs it)
_POSTCODE = r"(?:,?\s*(?:SE-?\s?)?\d{3}\s?\d{2}\b)?"
# Words that begin a street's name: "Västra Storgatan", "Gamla Tanneforsvägen".
_STREET_PREFIX = r"(?:(?:Västra|Östra|Norra|Södra|Stora|Lilla|Gamla|Nya|Vastra|Ostra|Sodra|Sankt|S:t)\s+)?"
_STREET = re.compile(
    r"\b" + _STREET_PREFIX + r"[A-Za-zÅÄÖåäöéü][\wåäöéü-]*?(?:" + "|".join(_STREET_ENDINGS) + r")\s+" + _NUMBER
    + _DETAILS + _POSTCODE,
    re.IGNORECASE,
)
# Two-word street names: "Gröna gatan 11", "Gamla vägen 5", "Norra Kyrkogatan 4".
_TWO_WORDS = re.compile(
    r"\b[A-ZÅÄÖ][a-zåäöé]+\s+(?i:gatan|gata|vägen|väg|gränd|gränden|stigen|backen|torget|allén|leden|platsen)\s+"
    + _NUMBER + _DETAILS + _POSTCODE,
)
# "bor på Kvarnholmen 3", "adress: Lillåns väg 4": a capitalised place and a number after an address cue.
_CUED = re.compile(
    r"(?i:\bbor\s+på|\bbor\s+pa|\badress(?:en)?:?|\blives\s+(?:at|on)|\baddress(?:\s+is)?:?)\s+"
    r"((?:[A-ZÅÄÖ][\wåäöéü-]*\s+){1,3}?" + _NUMBER + _DETAILS + _POSTCODE + r")",
)


def addresses(text: str) -> list[Span]:
    """Street addresses with a number, with a flat number and postcode where given."""
    out = []
    for m in _STREET.finditer(text):
        word = m.group().split()[-2].lower() if len(m.group().split()) > 2 else m.group().split()[0].lower()
        if word in _STREET_ENDINGS:  # "vägen 2 gånger": the ending alone is no street name
            continue
        out.append(m.span())
    out += [m.span() for m in _TWO_WORDS.finditer(text)]
    out += [m.span(1) for m in _CUED.finditer(text)]
    return out


# -- car registration plates -------------------------------------------------------------------

# Three letters (no I, Q, V, Å, Ä, Ö), two digits, then a digit or a letter (not O). Near a word for a
# car any three letters count: a plate recalled or typed in a hurry is not always a valid one ("Pvt 771").
_PLATE = re.compile(r"\b([A-Z]{3})[\s-]?(\d{2}[\dA-Z])\b", re.IGNORECASE)
_VALID_LETTERS = re.compile(r"[A-HJ-PR-UW-Z]{3}", re.IGNORECASE)
_PLATE_CUES = re.compile(r"\b(?:reg(?:nr|istrerings?(?:nummer|skylt))?\.?|registreringsnr|skylt(?:en)?|bil(?:en|ar|arna)?|"
                         r"plate|car|number plate|licen[cs]e plate|"
                         # car makes: "en blå tesla uvw 73r"
                         r"volvo|saab|tesla|audi|bmw|mazda|toyota|kia|volkswagen|vw|ford|skoda|opel|renault|peugeot|"
                         r"nissan|honda|mercedes|merca|citroen|citroën|hyundai|seat|fiat|suzuki|mitsubishi|subaru|"
                         r"lexus|porsche|dacia|polestar|skåpbil|taxi|van|suv)\b", re.IGNORECASE)


def plates(text: str, not_plates: Collection[str] = (), is_word: Callable[[str], bool] = lambda w: False) -> list[Span]:
    """Car registration plates: ABC 123, ABC 12D, ABC-123, also in lower case ("ktp 291").

    `not_plates` are letter groups that are abbreviations here (BUP, SIP …); three letters that
    are a word (`is_word`: "och 123", "sid 123") are one only near a word like "reg" or "bil".
    """
    out = []
    for m in _PLATE.finditer(text):
        letters = m.group(1)
        if letters.lower() in not_plates:
            continue
        cued = bool(_PLATE_CUES.search(text[max(0, m.start() - 40) : m.start()]))
        valid = _VALID_LETTERS.fullmatch(letters) is not None and m.group(2)[-1].upper() not in "IQVO"
        if cued or (valid and not is_word(letters.lower())):
            out.append(m.span())
    return out
