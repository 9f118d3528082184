"""Normalising Swedish text the way school staff actually write it.

Messages arrive with emoji, HTML or Markdown, missing å/ä/ö ("mar daligt"),
capitals and typos. Everything the router compares goes through here first:
markup and emoji are removed, letters are lower-cased and folded to ASCII
(å, ä → a; ö → o), words are split on anything that is not a letter or digit,
and clause breaks (full stops, commas, "men") are kept as "." tokens because
negation ("inga självmordstankar, men ...") only reaches to the end of its
clause. Swedish stemming uses the Snowball stemmer on words that keep å/ä/ö,
because folding first would merge "gånger" with "gäng" and "länge" with
"langa"; `bot.core.matching` bridges words typed without them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

BREAK = "."

_TAG = re.compile(r"<[^<>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WORD_OR_BREAK = re.compile(r"[a-z0-9åäö]+|[.!?;:,\n()]+")
# Words that start a new clause for the purposes of negation scope; the word itself is kept.
_CLAUSE_WORDS = frozenset({"men", "but", "fast", "utan"})
# "och" before one of these finite verbs joins two clauses: "hon kommer inte vara här och har gett bort
# sina saker" — the negation of the first does not reach the second (folded forms).
_AND = frozenset({"och", "and"})
_FINITE_VERBS = frozenset(
    {"har", "hade", "ar", "var", "ska", "skulle", "sa", "sager", "gav", "ger", "tog", "tar", "blev", "blir",
     "gick", "gar", "kom", "kommer", "vill", "kan", "has", "had", "is", "was", "gave", "gives", "took", "said"}
)

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

# Everyday words whose folded stem would collide with a keyword
# ("väldigt" → "vald" = "våld"); they are kept whole.
_UNSTEMMED = frozenset({"valdigt", "valdig", "valdiga", "valdans", "valdigare"})
# A pupil quoted in the first person ("jag har skurit mig") says what a teacher
# reports in the third ("hon har skurit sig"): reflexive pronouns are one word.
# "mig" and "sig" are one word for matching ("jag skär mig" is "skär sig"); "dig" is not:
# "jag ska döda dig" is a threat or a game, never a child speaking of itself.
_REFLEXIVE = frozenset({"mig", "sig"})


_SWEDISH = frozenset("åäö")


_NOT_PLAIN = re.compile(r"[^\x00-\x7fåäö]")


def fold(text: str) -> str:
    """Lower-cases and folds diacritics to ASCII (å/ä → a, ö → o, é → e ...)."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    if text.isascii():
        return text
    # Anything else with a combining mark loses the mark (e.g. "ł" stays, "ň" → "n").
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _lower_keep_swedish(text: str) -> str:
    """Lower-cases and folds every diacritic except å, ä and ö, which carry meaning in Swedish."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _NOT_PLAIN.sub(lambda m: fold(m.group()), text)


def strip_markup(text: str) -> str:
    """Removes HTML tags, URLs and Markdown emphasis so only words remain."""
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    return re.sub(r"[*_~`#>|\[\]{}]+", " ", text)


def words(text: str) -> list[str]:
    """Lower-case words that keep å/ä/ö, with "." marking clause breaks (none doubled or at the ends).

    "gånger" and "gäng" stay apart here; a word typed without å/ä/ö is matched
    against both by `bot.core.matching`.
    """
    out: list[str] = []
    found = _WORD_OR_BREAK.findall(_lower_keep_swedish(strip_markup(text)))
    for i, raw in enumerate(found):
        clause_word = raw[0].isalnum() and fold(raw) in _CLAUSE_WORDS
        if raw in _AND and i + 1 < len(found) and fold(found[i + 1]) in _FINITE_VERBS:
            clause_word = True
        if (clause_word or not raw[0].isalnum()) and out and out[-1] != BREAK:
            out.append(BREAK)
        if raw[0].isalnum():
            out.append(raw)
    while out and out[-1] == BREAK:
        out.pop()
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[.!?])(?=[A-ZÅÄÖ])")


def sentences(text: str) -> list[str]:
    """The text split into sentences (at . ! ? followed by space or a capital, and at line breaks)."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


# Frequent English and Swedish function words: a message with more of the first is English.
_ENGLISH = frozenset(
    ["the", "and", "is", "are", "was", "were", "she", "he", "her", "his", "him", "they", "their", "them", "a", "an", "to", "of", "in", "with", "what", "how", "who", "my", "our", "we", "student", "pupil", "school", "teacher", "home", "parents", "has", "have", "had", "this", "that", "not", "it", "i", "you", "for", "at", "on", "about"]
)
_SWEDISH = frozenset(
    ["och", "är", "att", "det", "en", "ett", "som", "har", "inte", "jag", "hon", "han", "på", "med", "för", "av", "vi", "de", "den", "till", "om", "vad", "hur", "vem", "min", "vår", "elev", "eleven", "skolan", "lärare", "hemma", "hennes", "hans", "sig", "sin", "sitt", "ska", "kan", "var"]
)


def is_english(content: list[str]) -> bool:
    """True when a message's words (as from `words`) are mostly English function words."""
    en = sum(1 for w in content if w in _ENGLISH)
    sv = sum(1 for w in content if w in _SWEDISH)
    return en >= 2 and en > 2 * sv


def tokens(text: str) -> list[str]:
    """Folded words (å/ä → a, ö → o) with "." marking clause breaks."""
    return [fold(w) for w in words(text)]


def normalize(text: str) -> str:
    """Returns the canonical form of a text: folded words and clause breaks separated by spaces.

    Idempotent: normalize(normalize(x)) == normalize(x).
    """
    return " ".join(tokens(text))


_DEFINITE_N = re.compile(r"[aouyåäö]n$")
# Snowball takes the adjective ending "-lig" off, which leaves short stems that are other
# words ("hemlig" -> "hem", "farlig" -> "far", "härlig" -> "här"). Stems this short keep it,
# except where the adjective means the same as the noun ("orolig", "oro").
SHORT_STEM = 3
_LIG_SAME = frozenset({"oro"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Swedish Snowball stem of a lower-case word (numbers and short words are returned unchanged).

    Snowball leaves the definite "-n" after a vowel ("skolan", "frånvaron"),
    so it is taken off here too, the same way for the knowledge base and the
    message, which is all matching needs.
    """
    if word in _REFLEXIVE:
        return "sig"
    if word.isdigit() or len(word) < 3 or fold(word) in _UNSTEMMED:
        return word
    s = _STEMMER.stemWord(word)
    if len(s) >= 6 and _DEFINITE_N.search(s):
        s = _STEMMER.stemWord(s[:-1])
    if len(s) <= SHORT_STEM and word.startswith(s + "lig") and s not in _LIG_SAME:
        s += "lig"  # "hemlig" is not "hem", "farlig" not "far" (father), "härlig" not "här"
    return s


def stems(text: str) -> list[str]:
    """Stems of every word in the text (keeping å/ä/ö), clause breaks dropped."""
    return [stem(w) for w in words(text) if w != BREAK]


def word_count(text: str) -> int:
    """How many words (letters or digits) a message has after removing emoji and markup."""
    return sum(1 for w in words(text) if w != BREAK)
