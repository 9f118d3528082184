"""Builds bot/text/data/names.tsv.gz, the name list `bot.text.names` reads. Run by developers, not by Lotsen.

    pip install 'names-dataset==3.3.1' 'wordfreq==3.1.1'   # names per country (MIT); word frequencies
    apt-get install hunspell-sv hunspell-en-us hunspell-tools   # dictionaries and `unmunch`
    python -m bot.text.names_build

The names come from names-dataset (first and last names with a popularity rank
per country, from public social-network profiles): every name ranked in Sweden,
and the most common ones of every other country, since Sweden's population has
roots everywhere (Finland, Syria, Iraq, Somalia via Sweden's and Djibouti's
lists, Afghanistan, Eritrea and Ethiopia, Iran, Poland, the Balkans, Turkey …).
Each name is marked with whether its lower-case form is an ordinary Swedish or
English word (the hunspell dictionaries, every inflected form expanded with
`unmunch`) and, if so, how common that word is (wordfreq's Zipf scale): such a
name ("Saga", "Klara", "Hans", "Will") is taken for a name only where the context
says so, the more common the word the stronger the context (`bot.text.names`).

The output is sorted and deterministic for the same inputs.
"""

from __future__ import annotations

import gzip
import pickle
import subprocess
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "names.tsv.gz"
WORDS_OUT = Path(__file__).resolve().parent / "data" / "words.tsv.gz"
PLACES_OUT = Path(__file__).resolve().parent / "data" / "places.txt.gz"
# The most frequent word forms (wordfreq) that the dictionaries know: a capitalised word the list
# lacks is taken for a name only if it is none of these ("Klassen i 8C …"), and a word typed without
# å/ä/ö that is one of these is no foreign name ("fran" is "från", not Fran).
TOP_SWEDISH, TOP_ENGLISH = 60000, 30000
HUNSPELL = Path("/usr/share/hunspell")
# Ranks kept: every name ranked in Sweden; in the countries many Swedes have their roots in (and
# their neighbours, whose names they share) the most common ones. names-dataset has no list for
# Somalia, Eritrea or the former Yugoslavia as such: Sweden's own list, Djibouti, Ethiopia, Sudan,
# Yemen, Bosnia's neighbours Croatia and Serbia, and Albania stand in.
ORIGINS = frozenset({
    "FI", "NO", "DK", "IS", "EE", "LT", "DE", "AT", "NL", "GB", "IE", "US", "FR", "IT", "ES", "PT", "GR",
    "PL", "CZ", "HU", "BG", "MD", "RU", "HR", "RS", "SI", "AL", "TR", "GE", "AZ",
    "IQ", "SY", "LB", "JO", "PS", "SA", "YE", "KW", "EG", "LY", "TN", "DZ", "MA", "SD",
    "IR", "AF", "TM", "KZ", "ET", "DJ", "BI", "NG", "GH", "CM",
    "IN", "BD", "CN", "HK", "TW", "KH", "PH", "ID", "MY", "JP", "KR",
    "CL", "CO", "PE", "BO", "EC", "MX", "BR", "AR", "UY",
})
FIRST_ELSEWHERE = 1000
LAST_ELSEWHERE = 1200
# A name this common (by its best rank) is "common": it may be taken for a name with less context.
COMMON_SE_FIRST, COMMON_SE_LAST = 3000, 5000
COMMON_ELSEWHERE_FIRST, COMMON_ELSEWHERE_LAST = 300, 400


def _forms(language: str) -> set[str]:
    """Every word form of a hunspell dictionary (lower-case entries only: ordinary words)."""
    dic, aff = HUNSPELL / f"{language}.dic", HUNSPELL / f"{language}.aff"
    out = subprocess.run(["unmunch", str(dic), str(aff)], capture_output=True, check=True).stdout
    words = out.decode("utf-8", "replace").split("\n") if language.startswith("sv") else out.decode("latin-1").split("\n")
    return {w.strip() for w in words if w.strip() and w.strip()[0].islower()}


def _clean(name: str) -> str | None:
    """The name as a plain word (letters, one inner hyphen or apostrophe), or None."""
    name = unicodedata.normalize("NFC", name.strip())
    if not 2 <= len(name) <= 24 or " " in name:
        return None
    core = name.replace("-", "").replace("'", "")
    if not core.isalpha():
        return None
    return name


def _select(table: dict, elsewhere: int, common_se: int, common_elsewhere: int) -> dict[str, bool]:
    """name -> common? for the names kept from one names-dataset table."""
    out: dict[str, bool] = {}
    for raw, info in table.items():
        ranks = info.get("rank") or {}
        se = ranks.get("SE")
        best = min((r for c, r in ranks.items() if c in ORIGINS), default=None)
        if se is None and (best is None or best > elsewhere):
            continue
        name = _clean(raw)
        if name is None:
            continue
        common = (se is not None and se <= common_se) or (best is not None and best <= common_elsewhere)
        out[name] = out.get(name, False) or common
    return out


def build() -> int:
    """Writes the list; returns how many names it holds."""
    import names_dataset  # the developer's install; Lotsen never imports it

    base = Path(names_dataset.__file__).resolve().parent / "v3"
    with gzip.open(base / "first_names.pkl.gz") as fh:
        first = _select(pickle.load(fh), FIRST_ELSEWHERE, COMMON_SE_FIRST, COMMON_ELSEWHERE_FIRST)
    with gzip.open(base / "last_names.pkl.gz") as fh:
        last = _select(pickle.load(fh), LAST_ELSEWHERE, COMMON_SE_LAST, COMMON_ELSEWHERE_LAST)
    from wordfreq import zipf_frequency  # how common a word is (0-8, log scale)

    swedish, english = _forms("sv_SE"), _forms("en_US")
    rows = []
    for name in sorted(set(first) | set(last)):
        kind = "both" if name in first and name in last else "first" if name in first else "last"
        lower = name.lower()
        # How common the ordinary word is in each language (Zipf), 0 when it is no word there.
        sv = zipf_frequency(lower, "sv") if lower in swedish else 0.0
        en = zipf_frequency(lower, "en") if lower in english else 0.0
        common = int(first.get(name, False) or last.get(name, False))
        rows.append(f"{name}\t{kind}\t{common}\t{sv:.1f}\t{en:.1f}")
    _write(OUT, rows)
    _write(WORDS_OUT, _frequent_words(swedish, english))
    _write(PLACES_OUT, _places())
    return len(rows)


def _places() -> list[str]:
    """Countries (their Swedish and English names, pycountry) and Swedish places: every place whose
    inhabitants the Swedish dictionary names ("Alingsåsbo" → Alingsås, "Stockholmare" → Stockholm)."""
    import gettext

    import pycountry  # installed with names-dataset

    swedish = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["sv"])
    names = set()
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", ""), swedish.gettext(country.name)):
            if name and " " not in name and "," not in name:
                names.add(name)
    dic, aff = HUNSPELL / "sv_SE.dic", HUNSPELL / "sv_SE.aff"
    forms = subprocess.run(["unmunch", str(dic), str(aff)], capture_output=True, check=True).stdout.decode("utf-8", "replace").split()
    capitalised = {f for f in forms if f[:1].isupper()}
    for form in forms:  # inhabitants are written in lower case ("stockholmare", "malmöbo") or not ("Alnöbo")
        for ending in ("bor", "bo", "are"):
            if form.endswith(ending) and len(form) > len(ending) + 2:
                place = form[: -len(ending)]
                place = place[:1].upper() + place[1:]
                if place.endswith("s") and place[:-1] in capitalised:
                    place = place[:-1]
                if place in capitalised:
                    names.add(place)
    return sorted({n.casefold() for n in names if _clean(n)})


def _frequent_words(swedish: set[str], english: set[str]) -> list[str]:
    """The most frequent Swedish and English word forms that the dictionaries know in lower case, sorted,
    each with its language
    (wordfreq counts names too; the dictionaries keep "hugo" out and "röd" in)."""
    from wordfreq import top_n_list, zipf_frequency

    sv = {w for w in top_n_list("sv", TOP_SWEDISH) if w in swedish and _clean(w)}
    en = {w for w in top_n_list("en", TOP_ENGLISH) if w in english and _clean(w)}
    rows = []
    for w in sorted(sv | en):
        language = "both" if w in sv and w in en else "sv" if w in sv else "en"
        zipf = zipf_frequency(w, "sv") if w in sv else zipf_frequency(w, "en")
        rows.append(f"{w}\t{language}\t{zipf:.1f}")
    return rows


def _write(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(("\n".join(rows) + "\n").encode("utf-8"))


if __name__ == "__main__":
    print(f"{build()} namn skrivna till {OUT}")
