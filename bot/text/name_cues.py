"""The words around a name that say it is one (or is not): the context `bot.text.names` weighs.

All word lists are folded (lower case, å/ä → a, ö → o), as `bot.text.normalize.fold` makes them.
"""

from __future__ import annotations

import re

from bot.text.normalize import fold


def _folded(*words: str) -> frozenset[str]:
    return frozenset(fold(w) for w in words)


# Right before a name: it is one whatever else the word could be ("heter Alla").
STRONG_BEFORE = _folded("heter", "hette", "kallas", "kallad", "kallades", "named", "called", "namn", "name",
                        "mvh", "hälsningar", "hälsning", "regards", "/")
# A signature's mark before a name: "… /pia", "– Johanna", "// Ulla".
SIGNATURE = re.compile(r"(?:\s/{1,2}|^/|\s[-–]{1,2}\s)\s*$")

# Right before a name, as a phrase: "my name is Jenny", "jag heter Saga", "namnet är Omar".
# The sender line of a forwarded e-mail ("Från: Anneli …", "From: Maria …") names a person too.
STRONG_PHRASE = re.compile(r"(?:\bname\s+is|\bnamn(?:et)?\s+är|\bnamn(?:et)?\s+ar|\bnamn\s*:|\bname\s*:"
                           r"|(?:^|\n)[ \t>]*(?:från|fran|from|avsändare|sender)\s*:)[ \t]*$", re.IGNORECASE)

# Right before a name: a person follows ("eleven Saga", "pappa Abdi", "my student Will").
ROLE_BEFORE = _folded(
    "eleven", "elev", "eleverna", "pojken", "flickan", "killen", "tjejen", "grabben", "dottern", "sonen", "barnet",
    "bror", "brodern", "brorsan", "lillebror", "lillebrorsan", "storebror", "syster", "systern", "syrran",
    "lillasyster", "storasyster", "syskonet", "syskonen", "syskon", "tvillingarna", "mamma", "pappa", "mamman",
    "pappan", "mor", "far", "modern", "fadern", "styvpappa", "styvmamma", "bonuspappa", "bonusmamma", "farmor",
    "farfar", "mormor", "morfar", "kusin", "kusinen", "kompis", "kompisen", "kamraten", "klasskompis",
    "klasskompisen", "vän", "vännen", "pojkvän", "pojkvännen", "flickvän", "flickvännen", "fröken", "mentorn",
    "läraren", "elevassistenten", "farbror", "morbror", "faster", "moster", "student", "pupil", "boy", "girl",
    "son", "daughter", "brother", "sister", "mum", "mom", "mother", "dad", "father", "stepdad", "stepmum",
    "stepmom", "stepfather", "stepmother", "grandma", "grandpa", "friend", "cousin", "uncle", "aunt", "twin",
    "flicka", "flickor", "pojke", "pojkar", "kille", "killar", "tjej", "tjejer", "unge", "ungen", "barn",
    "familjen", "familj", "family", "lilla", "lille", "stora", "store", "barnen", "tvillingarna", "syskonparet",
    "kurator", "kuratorn", "rektor", "rektorn", "mentor", "lärare", "specialpedagog", "specialpedagogen",
    "skolsköterska", "skolsköterskan", "fritidspedagog", "förskollärare", "förskolläraren", "barnskötare",
    "barnskötaren", "assistent", "assistenten", "vikarie", "vikarien", "principal", "teacher", "counsellor",
    "counselor", "nurse", "colleague", "kollega", "kollegan",
    "ettåringen", "tvååringen", "treåringen", "fyraåringen", "femåringen", "sexåringen",
)
# A role after a name, set off by a comma: "Grace, our principal", "Anna, hans mentor".
_ROLES_AFTER = (
    "rektor", "rektorn", "mentor", "mentorn", "lärare", "läraren", "kurator", "kuratorn", "skolsköterska",
    "skolsköterskan", "elevassistent", "mamma", "pappa", "mamman", "pappan", "bror", "syster", "styvpappa",
    "styvmamma", "principal", "teacher", "counsellor", "counselor", "nurse", "mother", "father", "mum", "mom",
    "dad", "brother", "sister", "stepdad", "stepmom", "stepmum", "aunt", "uncle", "grandmother", "grandfather",
)
ROLE_AFTER = re.compile(
    r"^\s*,\s*(?:(?:vår|var|min|hans|hennes|deras|elevens|barnets|our|my|his|her|their|the)\s+)?(?:"
    + "|".join(_ROLES_AFTER) + r")\b",
    re.IGNORECASE,
)

# After a genitive: "Tildes mamma", "Omars klass".
AFTER_GENITIVE = _folded(
    "mamma", "pappa", "mor", "far", "föräldrar", "förälder", "vårdnadshavare", "bror", "syster", "syskon",
    "lillebror", "lillasyster", "storebror", "storasyster", "familj", "mentor", "lärare", "klass", "klasskompis",
    "kompis", "kompisar", "styvpappa", "styvmamma", "bonuspappa", "bonusmamma", "farmor", "farfar", "mormor",
    "morfar", "hem", "rum", "mobil", "telefon", "nummer", "mum", "mom", "dad", "mother", "father", "parents",
    "brother", "sister", "family", "teacher", "class", "home", "phone", "mamman", "pappan",
)

# A verb right after a word that starts its clause as the subject: "Klara har …", "Omar berättade …".
VERBS_AFTER = _folded(
    "har", "hade", "är", "var", "blir", "blev", "kan", "kunde", "ska", "skulle", "vill", "ville", "måste", "får",
    "fick", "mår", "mådde", "säger", "sa", "sade", "berättar", "berättade", "gråter", "grät", "skriker", "skrek",
    "slår", "slog", "skär", "skar", "kommer", "kom", "går", "gick", "springer", "sprang", "verkar", "kände",
    "känner", "tycker", "tyckte", "bor", "bodde", "brukar", "vägrar", "vägrade", "sitter", "satt", "ligger", "låg",
    "står", "stod", "pratar", "pratade", "frågar", "frågade", "svarar", "svarade", "sover", "sov", "äter", "åt",
    "leker", "lekte", "bråkar", "bråkade", "slutade", "började", "börjar", "saknas", "saknar", "hamnade",
    "visade", "visar", "skrev", "skriver", "ringde", "ringer", "hämtades", "lämnades", "uteblev", "rymde",
    "försvann", "skadade", "hotade", "hotar", "bits", "biter", "bet", "slänger", "kastade", "e",
    "has", "had", "is", "was", "says", "said", "told", "tells", "cries", "cried", "hits", "wants", "came",
    "comes", "seems", "lives", "refuses", "refused", "hurts", "showed", "wrote", "ran", "left", "called",
)

# After a name: a class, year or age ("i 8B", "(7 år)", ", 16 år", "(grade 4)", ", 2b").
CLASS_AFTER = re.compile(
    r"^(?:\s+[a-zåäöA-ZÅÄÖ]\.?(?=[\s,)]))?"
    r"(?:\s+(?:går|gar|gick|är|ar|var|sitter|börjar|borjar|is|goes|was)(?=\s+(?:i|in|på)\s))?\s*(?:"
    r"\(\s*(?:[a-zåäö]+\s*,?\s*)?(?:\d{1,2}\s*(?:år|ar|years?|yrs?|yo|mån\w*)?|(?:åk|ak|årskurs|klass|grade|year|class)"
    r"\s*\d{1,2}|\d{1,2}\s?[a-zåäöA-ZÅÄÖ])\s*[,)\s]|,\s*\d{1,2}\s*(?:år|ar|years?|yo)\b|,?\s*\d{1,2}\s*(?:år|ar|years? old|yo)\b|"
    r",\s*\d{1,2}\s?[a-zåäöA-ZÅÄÖ]\b|"
    r"i\s+(?:\d{1,2}\s?[a-zåäöA-ZÅÄÖ]?\b|(?:åk|ak|årskurs|arskurs|klass|förskoleklass|forskoleklass|f-klass|fklass|"
    r"ettan|tvåan|tvaan|trean|fyran|femman|sexan|sjuan|åttan|attan|nian|fritids)\b)|"
    r"in\s+(?:year|grade|class)\s+\d|på\s+(?:avdelning|förskolan|forskolan|fritids)\b)",
    re.IGNORECASE,
)

# A capitalised word right after these is a place or a time ("i Lund", "från Irak", "in June"), no person.
PLACE_BEFORE = _folded("i", "från", "fran", "utanför", "nära", "in", "from", "at", "on", "under", "inför", "efter",
                       "sedan", "since", "during", "after", "before",
                       # a name of a preschool, a department or a group: "förskolan Humlan", "avdelning Ekorren"
                       "förskolan", "forskolan", "avdelning", "avdelningen", "skolan", "gruppen", "klassen", "laget",
                       "föreningen", "kyrkan", "moskén")

# One-letter words that are no initial ("i 8B", "o" for "och", "å", "e" for "är").
ONE_LETTER_WORDS = _folded("i", "o", "å", "ö", "a", "e", "u", "y")

# A Swedish noun in its definite form ("grannen", "bilen", "förskolebarnet"): a subject, no name.
DEFINITE = re.compile(r"(?:[^aeiouyåäö]en|et|na|arna|orna|erna|ern)$")

# How Swedish nouns end, and names rarely do: "frånvaro", "rastbråk" are no names at a sentence start.
NOUN_ENDING = re.compile(r"(?:[^aeiouy]en|et|na|arna|orna|erna|ern|het|ning|else|are|ande|ende|skap|tion|varo|brak|"
                         r"eri|ism|itet|dom|lek|barn|larare|elev|hjulet)$")  # matched against folded words

# Words that join two names: "Idun och Majken", "kalle o totte".
AND = _folded("och", "o", "and", "&", "eller", "or")

# Between a name and its nickname in quotes: "Mehmet Öztürk, 'Memo'".
NICKNAME_GAP = re.compile(r"\s*\(\s*[\"'‘’“”«»]?\s*|\s*,?\s*[\"'‘’“”«»]\s*")

# Languages and nationalities (capitalised in English: "she speaks Somali", "a Swedish boy").
LANGUAGES = _folded(
    "swedish", "english", "finnish", "norwegian", "danish", "german", "french", "spanish", "italian", "polish",
    "arabic", "somali", "persian", "farsi", "dari", "pashto", "kurdish", "turkish", "tigrinya", "amharic",
    "bosnian", "serbian", "croatian", "albanian", "ukrainian", "russian", "thai", "vietnamese", "chinese",
    "syrian", "iraqi", "afghan", "eritrean", "ethiopian", "iranian", "somalian", "swede", "swedes", "european",
    "african", "asian", "muslim", "christian", "jewish", "sami", "roma",
)
# Role, family and school words are never names, whatever a name list says ("Pappa" is a family name somewhere).
NOT_NAMES = ROLE_BEFORE | AFTER_GENITIVE | LANGUAGES | _folded(
    "familjen", "föräldrarna", "vårdnadshavaren", "vårdnadshavarna", "personnummer", "namn", "adress", "telefon",
    "mobil", "mejl", "hej", "hejsan", "tjena", "mvh", "hälsningar", "tack", "kram", "vänliga", "elevhälsan",
    "åk", "årskurs", "klass", "klassen", "förskoleklass", "fritids", "avdelning", "avdelningen", "lgh",
    "vem", "vad", "var", "när", "hur", "vilken", "vilket", "vilka", "varför", "vart", "who", "what", "when",
    "where", "why", "which", "how", "hi", "hello", "hey", "dear", "kära", "hallå", "tja", "tjo", "god", "morgon",
    # pronouns ("vad heter du")
    "du", "ni", "jag", "vi", "han", "hon", "hen", "den", "det", "de", "dem", "dom", "man", "mig", "dig", "sig",
    "you", "he", "she", "they", "it", "we", "me", "him", "her", "them",
    # syndromes named after people ("Downs syndrom")
    "downs", "down", "aspergers", "asperger", "tourettes", "tourette", "crohns", "crohn",
    # weekdays, and English months that are no given names
    "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday", "mondays", "tuesdays", "wednesdays", "thursdays", "fridays",
    "saturdays", "sundays", "january", "february", "march", "july", "september", "october", "november",
    "december",
    # abbreviations staff type ("vh" vårdnadshavare, "ht"/"vt" terms, school subjects)
    "vh", "vhs", "vt", "ht", "ob", "vc", "bc", "ma", "sv", "eng", "idh", "hkk", "tel", "nr", "ca", "bl", "dvs",
    "mm", "osv", "ggr", "pga", "iaf", "ngn", "ngt", "nån", "nåt", "tex", "kl", "ok", "okej", "haha", "hehe",
    "lol", "mån", "tis", "ons", "tors", "fre", "lör", "sön", "soc", "socialen", "bup", "eht", "sip", "lss",
    "case", "caset", "pick", "up", "year", "years", "grade", "class", "yr",
)
# A word that ends in a role is a role, however it begins: "svenskläraren", "klassmentorn".
ROLE_ENDING = re.compile(r"(?:lärare|läraren|larare|lararen|mentor|mentorn|rektor|rektorn|kurator|kuratorn|"
                         r"pedagog|pedagogen|sköterska|sköterskan|assistent|assistenten|teacher)$")
