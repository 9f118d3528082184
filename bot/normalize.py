"""Normalising Swedish text the way school staff actually write it.

Messages arrive with emoji, HTML or Markdown, missing å/ä/ö ("mar daligt"),
capitals and typos. Everything the router compares goes through here first:
markup and emoji are removed, letters are lower-cased and folded to ASCII
(å, ä → a; ö → o), words are split on anything that is not a letter or digit,
and clause breaks (full stops, commas, "men") are kept as "." tokens because
negation ("inga självmordstankar, men ...") only reaches to the end of its
clause. Swedish stemming uses the Snowball stemmer on folded words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

BREAK = "."

_TAG = re.compile(r"<[^<>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WORD_OR_BREAK = re.compile(r"[a-z0-9]+|[.!?;:,\n()]+")
# Words that start a new clause for the purposes of negation scope.
_CLAUSE_WORDS = frozenset({"men", "but", "fast", "utan"})

_FOLD = str.maketrans(
    {
        "å": "a", "ä": "a", "à": "a", "á": "a", "â": "a", "ã": "a", "æ": "a",
        "ö": "o", "ø": "o", "ó": "o", "ò": "o", "ô": "o", "õ": "o",
        "é": "e", "è": "e", "ê": "e", "ë": "e",
        "ü": "u", "ú": "u", "ù": "u", "û": "u",
        "í": "i", "ì": "i", "î": "i", "ï": "i",
        "ç": "c", "ñ": "n", "ß": "ss", "ÿ": "y", "ý": "y",
    }
)  # fmt: skip

_STEMMER = snowballstemmer.stemmer("swedish")


def fold(text: str) -> str:
    """Lower-cases and folds diacritics to ASCII (å/ä → a, ö → o, é → e ...)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    # Anything else with a combining mark loses the mark (e.g. "ł" stays, "ň" → "n").
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def strip_markup(text: str) -> str:
    """Removes HTML tags, URLs and Markdown emphasis so only words remain."""
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    return re.sub(r"[*_~`#>|\[\]{}]+", " ", text)


def tokens(text: str) -> list[str]:
    """Returns folded words with "." marking clause breaks (never two in a row, none at the ends)."""
    out: list[str] = []
    for raw in _WORD_OR_BREAK.findall(fold(strip_markup(text))):
        if raw[0].isalnum() and raw not in _CLAUSE_WORDS:
            out.append(raw)
        elif out and out[-1] != BREAK:
            out.append(BREAK)
    while out and out[-1] == BREAK:
        out.pop()
    return out


def normalize(text: str) -> str:
    """Returns the canonical form of a text: folded words and clause breaks separated by spaces.

    Idempotent: normalize(normalize(x)) == normalize(x).
    """
    return " ".join(tokens(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Swedish Snowball stem of an already folded word (numbers are returned unchanged)."""
    if word.isdigit() or len(word) < 3:
        return word
    return _STEMMER.stemWord(word)


def stems(text: str) -> list[str]:
    """Stems of every word in the text, clause breaks dropped (used for keywords and phrasings)."""
    return [stem(t) for t in tokens(text) if t != BREAK]


def word_count(text: str) -> int:
    """How many words (letters or digits) a message has after removing emoji and markup."""
    return sum(1 for t in tokens(text) if t != BREAK)
