"""Names of people in a message: a name list from maintained data, weighed against the words around each name.

`find(text, keep)` returns the spans of given names, family names, nicknames and
their genitives ("Tildes mamma", "Abdi:s pappa"). How sure it must be depends on
what else the word could be, the way Presidio combines a recogniser with context
words:

- a name that is no ordinary word ("Alva", "Hedlund", "Mohamud") is a name when
  it is capitalised, and in a message typed in lower case when it is a common
  name or the context says so;
- a name that is also an ordinary word ("Saga", "Klara", "Hans", "Ramadan") is a
  name only where the context says so: "heter …", a role before it ("eleven
  Saga", "pappa Abdi"), a class or age after it ("Saga i 2A", "Bo (7 år)"), its
  genitive before a family word ("Klaras mamma"), a verb after it as a subject
  ("Klara har inte varit här"); the more common the word, the stronger the
  context must be ("Alla" and "Per" need "heter" or a role);
- a capitalised word that is on no list and is no frequent word is a name with
  such context ("pappa Bohdan", "Rojin Aydın i 8C");
- beside a name more names follow: a family name ("Alva Qvarnström"), a given
  name before one ("Sofiia Kovalenko"), an initial ("fatime h"), a name joined by
  "och" ("Idun och Majken"), a nickname in quotes ("Mehmet, 'Memo'"), and the
  same name again elsewhere in the message;
- never a name: `keep` (the knowledge base's places, contacts and listed words),
  role and family words, a capitalised word right after "i", "från", "in" …
  (a place or a month), an abbreviation in capitals.

The lists (bot/text/data/) are built by `bot.text.names_build` from names-dataset,
the hunspell dictionaries and wordfreq; they are loaded once, on first use.
"""

from __future__ import annotations

import functools
import gzip
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.text import name_cues as cues
from bot.text.normalize import fold

DATA = Path(__file__).resolve().parent / "data"
Span = tuple[int, int]

# Zipf frequency (0–8) of the ordinary word a name also is, from which it needs a strong cue
# ("heter Alla", "eleven Per"), and from which a verb after it is not enough when it is lower case.
FUNCTION_WORD = 5.5
COMMON_WORD = 5.0
SUBJECT_WORD = 4.5  # a word rarer than this that opens a sentence before a verb is a name ("Saga har …")
RARE_WORD = 4.0  # a lower-case name that is also a word this rare ("tilde") is a name with a class cue

_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*(?::s|['’]s)?")


@dataclass(frozen=True, slots=True)
class Entry:
    """A name on the list: given or family name, whether it is common, and how common it is as an ordinary word."""

    given: bool
    family: bool
    common: bool
    swedish_zipf: float  # 0: no Swedish word
    english_zipf: float  # 0: no English word

    def zipf(self, english: bool) -> float:
        return max(self.swedish_zipf, self.english_zipf) if english else self.swedish_zipf


@functools.lru_cache(maxsize=8192)
def _fold(word: str) -> str:
    """`fold`, remembered for the words of the last few messages (memory only, a few hundred kilobytes)."""
    return fold(word)


class _Lists:
    """The name list and the frequent words, loaded on first use (once per process)."""

    def __init__(self) -> None:
        self._names: dict[str, Entry] = {}
        self._folded: dict[str, Entry] = {}
        self._swedish: dict[str, float] = {}  # word -> Zipf frequency
        self._swedish_folded: dict[str, float] = {}  # word as typed without å/ä/ö -> Zipf frequency
        self._english: dict[str, float] = {}
        self._places: frozenset[str] = frozenset()
        self._loaded = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._swedish, self._swedish_folded, self._english = _load_words()
                    self._places = _load_set("places.txt.gz")
                    self._names, self._folded = _load_names()
                    self._loaded = True

    def get(self, word: str) -> Entry | None:
        """The word's entry; typed without å/ä/ö it matches a name only if it is no frequent word ("gor", "men")."""
        self._ensure()
        key = word.casefold()
        entry = self._names.get(key)
        if entry is None and not self.is_word(word, english=True):
            entry = self._folded.get(_fold(word))
        return entry

    def is_word(self, word: str, english: bool = False) -> bool:
        """A frequent Swedish word form (with or without å/ä/ö) the dictionary knows; or English, with `english`."""
        return self.frequency(word, english) > 0

    def frequency(self, word: str, english: bool = False, as_typed: bool = False) -> float:
        """How frequent the word is as a Swedish (or, with `english`, English) word: Zipf, 0 for none on the list.

        Also as a word typed without å/ä/ö ("fran" for "från"), unless `as_typed`.
        """
        self._ensure()
        key, folded = word.casefold(), _fold(word)
        zipf = self._swedish.get(key, 0.0)
        if not as_typed:
            zipf = max(zipf, self._swedish.get(folded, 0.0), self._swedish_folded.get(folded, 0.0))
        return max(zipf, self._english.get(key, 0.0)) if english else zipf

    def is_place(self, word: str) -> bool:
        """A country, or a Swedish place the dictionary knows the inhabitants of."""
        self._ensure()
        return word.casefold() in self._places or _fold(word) in self._places


def _load_names() -> tuple[dict[str, Entry], dict[str, Entry]]:
    """The names by their lower-case form, and by their form typed without å/ä/ö or accents where that differs.

    Entries are shared: a hundred thousand names have a few hundred distinct entries,
    so the lists take a few megabytes, not tens.
    """
    entries: dict[str, Entry] = {}
    folded: dict[str, Entry] = {}
    shared: dict[tuple[str, str, str, str], Entry] = {}
    with gzip.open(DATA / "names.tsv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            name, kind, common, sv, en = line.rstrip("\n").split("\t")
            entry = shared.get((kind, common, sv, en))
            if entry is None:
                entry = shared[(kind, common, sv, en)] = Entry(kind != "last", kind != "first", common == "1",
                                                               float(sv), float(en))
            key = sys.intern(name.casefold())
            entries[key] = entry
            plain = fold(name)
            if plain != key:
                folded.setdefault(plain, entry)
    return entries, folded


def _load_words() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """The frequent Swedish words, the same as typed without å/ä/ö (where that differs), and the frequent
    English ones, each with its Zipf frequency."""
    swedish: dict[str, float] = {}
    folded: dict[str, float] = {}
    english: dict[str, float] = {}
    shared: dict[str, float] = {}
    with gzip.open(DATA / "words.tsv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            word, language, zipf_text = line.rstrip("\n").split("\t")
            zipf = shared.setdefault(zipf_text, float(zipf_text))
            if language != "en":
                swedish[word] = zipf
                plain = fold(word)
                if plain != word:
                    folded[plain] = max(zipf, folded.get(plain, 0.0))
            if language != "sv":
                english[word] = zipf
    return swedish, folded, english


def _load_set(name: str) -> frozenset[str]:
    """A word list, with each word also as typed without å/ä/ö."""
    with gzip.open(DATA / name, "rt", encoding="utf-8") as fh:
        words = {line.strip() for line in fh if line.strip()}
    return frozenset(words | {plain for w in words if (plain := fold(w)) != w})


LISTS = _Lists()


def is_frequent_word(word: str) -> bool:
    """A frequent Swedish or English word ("och", "sid"): three such letters and a number are no plate."""
    return LISTS.is_word(word, english=True)


def load() -> None:
    """Loads the lists now (the router does it at build, so no message waits for them)."""
    LISTS.is_word("")


def word_zipf(entry: Entry, word: str, english: bool) -> float:
    """How common the ordinary word a name also is: by the name list's dictionaries, or by the word list
    (which knows words typed without å/ä/ö: "fran" is "från", "ar" is "är"). A place counts as a common
    word: it needs context."""
    if "-" in word and _hyphenated(word):
        return 0.0  # "ebba-li", "Lars-Göran": two names joined are no word
    # A capitalised name the dictionaries know as a word ("Saga") is that word, not another typed without
    # å/ä/ö ("säga"); in lower case it may be either ("ar" is "är").
    as_typed = entry.zipf(english) > 0 and word[:1].isupper()
    zipf = max(entry.zipf(english), LISTS.frequency(word, english, as_typed=as_typed))
    return max(zipf, COMMON_WORD) if LISTS.is_place(word) else zipf


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str  # as written, genitive included
    base: str  # without a genitive ending
    genitive: bool
    key: str = ""  # the base folded (lower case, no å/ä/ö): what the word lists are looked up by
    whole: str = ""  # the text folded

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", fold(self.base))
        object.__setattr__(self, "whole", fold(self.text))

    @property
    def capital(self) -> bool:
        return self.base[:1].isupper()


def tokens(text: str, english: bool = False) -> list[Token]:
    """The words of the text with their spans; a genitive (-s, :s, 's) is split off where the rest is a name.

    "Omars" is a genitive when "Omar" is a name, "Omars" is no frequent word, and
    either "Omars" is no name or a family word follows ("Omars pappa"). English
    writes its genitive with an apostrophe only ("locks" is no genitive).
    """
    words = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    out = []
    for n, (start, end, word) in enumerate(words):
        base, genitive = word, False
        if word.endswith((":s", "'s", "’s")):
            base, genitive = word[:-2], True
        elif (not english and word.endswith("s") and len(word) > 3 and not LISTS.is_word(word)
              and (entry := LISTS.get(word[:-1])) is not None and entry.swedish_zipf < COMMON_WORD):
            following = fold(words[n + 1][2]) if n + 1 < len(words) else ""
            whole = LISTS.get(word)
            if whole is None or whole.swedish_zipf == 0 and following in cues.AFTER_GENITIVE:
                base, genitive = word[:-1], True
        out.append(Token(start, end, word, base, genitive))
    return out


@dataclass
class _Message:
    text: str
    toks: list[Token]
    keep: frozenset[str]
    english: bool
    lowercase: bool  # typed without capitals (on a phone)
    never: list[bool] = field(default_factory=list)  # per token: never a name here (`_never_name`)


def find(text: str, keep: frozenset[str] = frozenset(), english: bool = False,
         keep_names: frozenset[tuple[str, ...]] = frozenset()) -> list[Span]:
    """Spans of the names in `text` (see the module docstring).

    `keep` holds folded words never taken for names; `keep_names` whole names (folded words) that
    are left alone where they stand complete (the knowledge base's own contact persons).
    """
    toks = tokens(text, english)
    msg = _Message(text, toks, keep, english, _typed_in_lower_case(text, toks))
    msg.never = [_never_name(msg, i) for i in range(len(toks))]
    found = [_is_name(msg, i) for i in range(len(toks))]
    _mark_pairs(msg, found)
    while _add_neighbours(msg, found):
        pass
    _leave_kept_names(toks, found, keep_names)
    return [(t.start, t.end) for t, f in zip(toks, found, strict=True) if f]


def _typed_in_lower_case(text: str, toks: list[Token]) -> bool:
    """True when the writer does not capitalise: most sentences start in lower case."""
    starts = [t for t in toks if _starts_sentence(text, t)]
    return bool(starts) and sum(t.capital for t in starts) * 2 < len(starts)


def _starts_sentence(text: str, tok: Token) -> bool:
    """True when the word opens the text, a sentence, a line, a list item, a quote or a bracket."""
    before = text[max(0, tok.start - 40) : tok.start].rstrip(" \t\"'«»”“(")
    if not before:
        return tok.start <= 40 or not text[: tok.start].strip(" \t\"'«»”“(")
    if before[-1] in ".!?…:;\n•*>" or text[: tok.start].rstrip(" \t\"'«»”“").endswith("("):
        return True
    return before[-1] in "-–" and before[-2:-1].isspace()


def _never(msg: _Message, i: int) -> bool:
    """Words that are never names here (computed once per message)."""
    return msg.never[i]


def _never_name(msg: _Message, i: int) -> bool:
    """Words that are never names here (see the module docstring)."""
    tok = msg.toks[i]
    key, whole = tok.key, tok.whole
    if key in msg.keep or whole in msg.keep or len(tok.base) < 2:
        return True
    if key in cues.NOT_NAMES or whole in cues.NOT_NAMES or (whole.endswith("s") and whole[:-1] in cues.NOT_NAMES):
        return True  # "Pappas nummer"
    if len(key) > 8 and cues.ROLE_ENDING.search(key):
        return True  # "Svenskläraren"
    if ("'" in tok.text or "’" in tok.text) and not tok.genitive:
        return True  # "I'm", "don't": a name with an apostrophe (O'Brien) is rare here
    if tok.start and (msg.text[tok.start - 1].isalnum() or msg.text[tok.start - 1] == ":"):
        return True  # the end of a word: "8ans", "sms:ade"
    if tok.end < len(msg.text) and msg.text[tok.end].isalnum():
        return True  # the start of one: "Skola24"
    if (tok.base.isupper() and len(tok.base) <= 5) or any(part.isupper() for part in tok.base.split("-")[:1] if "-" in tok.base):
        return True  # BUP, LSS, SIP, SO-lärare
    before = msg.text[max(0, tok.start - 1) : tok.start]
    if before in ("@", "#") or (before == "/" and tok.start == 1):
        return True  # a handle, a hashtag or a command ("/kommun"; "… /jonas" at the end is a signature)
    previous = fold(msg.toks[i - 1].text) if i > 0 else ""
    # "från Elton Wahlberg": a word before a family name is its given name, not a place
    family_next = i + 1 < len(msg.toks) and msg.toks[i + 1].capital and _spaced(msg.text, tok, msg.toks[i + 1]) \
        and _family_name(msg.toks[i + 1], msg.english)
    return tok.capital and previous in cues.PLACE_BEFORE and _cue(msg, i) != "strong" and not family_next


def _is_name(msg: _Message, i: int) -> bool:
    if _never(msg, i):
        return False
    tok = msg.toks[i]
    if msg.english and not tok.capital and not msg.lowercase:
        return False  # English capitalises names
    cue = _cue(msg, i)
    entry = _entry(tok.base)
    initial = _starts_sentence(msg.text, tok)
    if cue == "strong" and not tok.capital and entry is not None and max(
            entry.zipf(msg.english), LISTS.frequency(tok.base, msg.english)) >= COMMON_WORD:
        return False  # "kallad till", "namn eller": after a strong cue a common word in lower case stays a word
    if cue in ("strong", "role") and not tok.capital and entry is None:
        # "/ulla", "heter xiomara", "mamma warsan är …" on a phone: a word on no list at all; after a role
        # only as a subject (a verb, or the end, after it: "mamma sjukanmäler varje gång" is no name)
        subject = cue == "strong" or _subject(msg, i)
        return msg.lowercase and subject and not LISTS.is_word(tok.base, msg.english)
    if entry is None:
        # On no list: a name after "heter", or with a role or a class ("pappa Bohdan", "Ismahan i 3A"); at the
        # start of a sentence only a short word that looks like no Swedish noun ("Ströfrånvaro i 4:an" is one).
        unknown_name = tok.capital and not LISTS.is_word(tok.base, True) and len(tok.base) >= 3 and (
            not initial or (len(tok.base) <= 9 and not cues.NOUN_ENDING.search(tok.key)))
        # Right after a family word mid-sentence, a capitalised rare word is a name too ("pappa Hejar").
        after_family = cue == "role" and tok.capital and not initial and LISTS.frequency(tok.base, True) < SUBJECT_WORD
        return cue == "strong" and tok.capital or unknown_name and cue in ("role", "class", "genitive") or after_family
    zipf = word_zipf(entry, tok.base, msg.english)
    if zipf:  # also an ordinary word: only where the context says it is a name
        if LISTS.is_place(tok.base):
            return tok.capital and cue in ("strong", "role", "class")  # "Kuba (10 år)"; "i Irak" stays
        if tok.capital and not initial:
            return zipf < FUNCTION_WORD or cue is not None  # only names are capitalised mid-sentence
        if zipf >= FUNCTION_WORD:
            return tok.capital and cue in ("strong", "role")
        if not tok.capital:
            return cue in ("strong", "genitive") or (cue == "class" and zipf < RARE_WORD)
        if cue == "verb" and initial:
            # Swedish puts the verb second whatever comes first ("Hemma har hon …", "Grannen såg …"):
            # only a rare word, and no noun in its definite form, is a name by its verb alone.
            return zipf < SUBJECT_WORD and not cues.DEFINITE.search(tok.key)
        return cue is not None
    if tok.capital and not initial:
        return True
    if tok.capital or msg.lowercase:
        return entry.common or cue is not None
    return cue in ("strong", "role", "class", "genitive")


def _entry(word: str) -> Entry | None:
    """The list's entry for a word; a hyphenated name is one when its parts are ("ebba-li", "Lars-Göran")."""
    entry = LISTS.get(word)
    if entry is None and "-" in word and _hyphenated(word):
        return LISTS.get(word.split("-")[0])
    return entry


def _hyphenated(word: str) -> bool:
    """A hyphenated name: its first part a name and no common word, every other part a name ("ebba-li")."""
    first, *rest = word.split("-")
    head = LISTS.get(first)
    return bool(rest) and not first.isupper() and head is not None and head.swedish_zipf < COMMON_WORD and all(
        LISTS.get(p) is not None for p in rest)


def _cue(msg: _Message, i: int) -> str | None:
    """What the words around token i say about it: "strong", "role", "class", "genitive", "verb" or None."""
    toks, tok = msg.toks, msg.toks[i]
    # A word before counts only within the clause: "… slår mamma. Vad …" has no role before "Vad".
    joined = i > 0 and msg.text[toks[i - 1].end : tok.start].strip(" :,") == ""
    before = toks[i - 1].whole if joined else ""
    if before in cues.STRONG_BEFORE or cues.STRONG_PHRASE.search(msg.text[max(0, tok.start - 20) : tok.start]):
        return "strong"
    if cues.SIGNATURE.search(msg.text[max(0, tok.start - 4) : tok.start]) and tok.start > 2:
        return "strong"  # a signature: "… /jonas 6a", "– Johanna, Eskilstuna"
    # The context after a full name follows its last part: "Bohdan Melnyk har …", "Alva Hedlund i 8B".
    last = i
    while _name_like(tok.base, msg.english) and last + 1 < len(toks) and toks[last + 1].capital and _spaced(msg.text, toks[last], toks[last + 1]) \
            and _name_like(toks[last + 1].base, msg.english) and last - i < 2:
        last += 1
    tok = toks[last]
    after = toks[last + 1].whole if last + 1 < len(toks) else ""
    rest = msg.text[tok.end : tok.end + 60]  # what the cues after a name look at
    if before in cues.ROLE_BEFORE or cues.ROLE_AFTER.match(rest):
        return "role"
    if cues.CLASS_AFTER.match(rest):
        return "class"
    if tok.genitive and after in cues.AFTER_GENITIVE:
        return "genitive"
    if after in cues.VERBS_AFTER and last + 1 < len(toks) and not msg.text[tok.end : toks[last + 1].start].strip():
        return "verb"
    return None


def _subject(msg: _Message, i: int) -> bool:
    """True when a verb, a conjunction or the end of the clause follows word i (it is the clause's subject)."""
    if i + 1 >= len(msg.toks):
        return True
    gap = msg.text[msg.toks[i].end : msg.toks[i + 1].start]
    return bool(gap.strip(" ")) or msg.toks[i + 1].whole in cues.VERBS_AFTER or msg.toks[i + 1].whole in cues.AND


def _name_like(word: str, english: bool) -> bool:
    """A word that could be part of a name: on the list and no common word, or on no list at all."""
    entry = _entry(word)
    if entry is None:
        return not LISTS.is_word(word) and fold(word) not in cues.NOT_NAMES
    return word_zipf(entry, word, english) < COMMON_WORD


def _add_neighbours(msg: _Message, found: list[bool]) -> bool:
    """Marks the names beside names (see the module docstring); True when it marked any."""
    toks, text = msg.toks, msg.text
    names = {t.key for t, f in zip(toks, found, strict=True) if f}
    added = False
    for i, tok in enumerate(toks):
        if not found[i] and _initial(text, toks, i) and found[i - 1]:
            found[i] = added = True  # an initial: "noah b", "Fatime H."
            continue
        if found[i] or _never(msg, i):
            continue
        entry = _entry(tok.base)
        initial_word = _starts_sentence(text, tok)
        before_name = i + 1 < len(toks) and found[i + 1] and _spaced(text, tok, toks[i + 1])
        if LISTS.is_place(tok.base) and not (entry is not None and entry.common):
            continue  # "Stockholm Central": a place beside a name is no part of it (but "Lind", "Malmberg" are names)
        if entry is not None:
            # A capitalised word right before a name, mid-sentence, is its given name even if it is a word ("My Granqvist").
            zipf = word_zipf(entry, tok.base, msg.english)
            # Before a family name that is no word, a capitalised word up to the very commonest is its
            # given name even at a sentence start ("Liv Andersson", "Per Holm"); "Alla Andersson" is not.
            before_family = before_name and tok.capital and _family_name(toks[i + 1], msg.english)
            limit = 6.0 if before_family else FUNCTION_WORD
            word_like = (zipf >= limit and not (before_name and tok.capital and not initial_word)) or (
                not tok.capital and zipf >= COMMON_WORD)
        else:
            # On no list of names: a rare capitalised word before a family name is a given name ("Agda Lindström")
            rare_given = before_name and tok.capital and _family_name(toks[i + 1], msg.english) \
                and LISTS.frequency(tok.base, msg.english) < SUBJECT_WORD
            word_like = (LISTS.is_word(tok.base) and not rare_given) or not tok.capital
        if word_like or not (tok.capital or msg.lowercase):
            continue
        beside = (i > 0 and found[i - 1] and _spaced(text, toks[i - 1], tok)) or before_name
        joined = (i > 1 and found[i - 2] and toks[i - 1].whole in cues.AND) or (
            i + 2 < len(toks) and found[i + 2] and toks[i + 1].whole in cues.AND) or (
            i > 0 and found[i - 1] and text[toks[i - 1].end : tok.start].strip() == "," and _name_like(tok.base, msg.english))
        initial = False  # initials are marked before _never (they are one letter)
        quoted = i > 0 and found[i - 1] and cues.NICKNAME_GAP.fullmatch(text[toks[i - 1].end : tok.start]) is not None
        again = tok.key in names and (tok.capital or msg.lowercase)
        if beside or joined or quoted or again or initial:
            found[i] = added = True
    return added


def _family_name(tok: Token, english: bool) -> bool:
    """A family name on the list that is no ordinary word ("Andersson", "Sjödin")."""
    entry = _entry(tok.base)
    return entry is not None and entry.family and not entry.zipf(english) and not LISTS.frequency(tok.base, english)


def _mark_pairs(msg: _Message, found: list[bool]) -> None:
    """A given name and a family name side by side are a name ("Juni Berg", "Maj Lind"), in capitals,
    or both in lower case in a message typed without capitals ("liam bergstrom")."""
    toks = msg.toks
    for i in range(len(toks) - 1):
        first, second = toks[i], toks[i + 1]
        same_case = (first.capital and second.capital) or (msg.lowercase and not first.capital and not second.capital)
        if not (same_case and _spaced(msg.text, first, second)):
            continue
        if _never(msg, i) or _never(msg, i + 1):
            continue
        a, b = _entry(first.base), _entry(second.base)
        if a is None or b is None or not a.given or not b.family:
            continue
        # The list's own word frequencies decide here (a dictionary may list a family name: "lindgren"),
        # with how common the words typed are ("stockholm fran" is no name) and no place.
        common = max(a.zipf(msg.english), b.zipf(msg.english), LISTS.frequency(first.base), LISTS.frequency(second.base))
        if common < COMMON_WORD and not LISTS.is_place(first.base) and not LISTS.is_place(second.base):
            found[i] = found[i + 1] = True


def _initial(text: str, toks: list[Token], i: int) -> bool:
    """A single letter after a word, ending the name ("noah b,", "Fatime H."), that is no one-letter word."""
    tok = toks[i]
    if len(tok.base) != 1 or i == 0 or tok.key in cues.ONE_LETTER_WORDS or not _spaced(text, toks[i - 1], tok):
        return False
    return re.match(r"[.,;:)!?]|\s*$|\s+[a-zåäö0-9(]", text[tok.end :]) is not None


def _leave_kept_names(toks: list[Token], found: list[bool], keep_names: frozenset[tuple[str, ...]]) -> None:
    """Unmarks every complete occurrence of a kept name ("Karin Exempelsson", the BUP contact)."""
    folded = [t.key for t in toks]
    for name in keep_names:
        for i in range(len(toks) - len(name) + 1):
            if tuple(folded[i : i + len(name)]) == name:
                for j in range(i, i + len(name)):
                    found[j] = False


def _spaced(text: str, first: Token, second: Token) -> bool:
    """True when only one or two spaces stand between two words (no punctuation, no line break: one name)."""
    gap = text[first.end : second.start]
    return 1 <= len(gap) <= 2 and gap.strip(" ") == ""
