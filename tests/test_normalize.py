"""The normaliser turns whatever staff type into comparable Swedish words."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.normalize import BREAK, fold, normalize, stem, stems, tokens, word_count, words


def test_diacritics_and_case_are_folded():
    assert fold("Elev MÅR DÅLIGT, Nyköping Vingåker") == "elev mar daligt, nykoping vingaker"


def test_text_without_a_and_o_dots_matches_text_with_them():
    assert normalize("elev mår dåligt") == normalize("elev mar daligt")


def test_emoji_markup_and_links_are_removed():
    text = "<b>Hej</b> **elev** 😟 mår _dåligt_ https://example.org/x?y=1"
    assert normalize(text) == "hej elev mar daligt"


def test_clause_breaks_limit_negation_scope():
    assert tokens("Inga självmordstankar, men hon är nedstämd") == [
        "inga", "sjalvmordstankar", ".", "men", "hon", "ar", "nedstamd",
    ]


def test_and_before_a_finite_verb_starts_a_new_clause():
    """The negation of "kommer inte vara här" does not reach "och har gett bort"."""
    assert words("hon kommer inte och har gett bort")[:5] == ["hon", "kommer", "inte", ".", "och"]
    assert BREAK not in words("han slår och sparkar")


def test_stemming_joins_inflected_forms():
    assert stem("kompisar") == stem("kompis")
    assert stem("habiliteringen") == "habilitering"
    assert stems("Socialtjänsten") == ["socialtjänst"]


def test_stems_keep_swedish_letters_so_different_words_stay_apart():
    assert stem("gånger") != stem("gäng")
    assert stem("länge") != stem("langar")


def test_an_adjective_in_lig_is_not_the_short_word_it_starts_with():
    """Snowball leaves "hem" of "hemlig" and "far" (father) of "farlig"; a stem that short keeps "-lig"."""
    assert stem("hemlighet") == stem("hemliga") != stem("hem")
    assert stem("farligt") != stem("far")
    assert stem("orolig") == stem("oro")  # worried is worry


def test_emoji_only_message_has_no_words():
    assert word_count("😂🙏👍") == 0
    assert word_count("   ") == 0


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normaliser_never_crashes_and_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
    assert all(t == "." or t.isalnum() for t in once.split())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_stems_of_arbitrary_unicode_are_plain_swedish_letters(text):
    for s in stems(text):
        assert all(ch.isascii() or ch in "åäö" for ch in s)
