"""Letters of other scripts drawn like Latin ones, capitals and small letters, as Unicode's confusables pair them
with [A-Za-z0-9]: a name of them is one name with the Latin one it passes for, and a word of them passes for an
id where the Latin one would."""

from __future__ import annotations

import pytest

from services.common.look_alikes import look_alike_form, looks_like_an_id

# Unicode's confusables (MA) of Greek, Cyrillic and Armenian letters for one Latin letter or digit
CAPITALS = {
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I", "\u039a": "K",
    "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    "\u037f": "J", "\u03d2": "Y", "\u03dc": "F", "\u03f9": "C", "\u03fa": "M",
    "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u0417": "3",
    "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P", "\u0421": "C", "\u0422": "T",
    "\u0423": "Y", "\u0425": "X", "\u0474": "V", "\u04ae": "Y", "\u050c": "G", "\u051c": "W",
    "\u054d": "U", "\u054f": "S", "\u0555": "O",
}
SMALL = {
    "\u03b1": "a", "\u03b3": "y", "\u03b9": "i", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p",
    "\u03c5": "u", "\u03f1": "p", "\u03f2": "c", "\u03f3": "j",
    "\u0430": "a", "\u0431": "6", "\u0433": "r", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c",
    "\u0443": "y", "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0461": "w", "\u0475": "v",
    "\u04af": "y", "\u04bb": "h", "\u04bd": "e", "\u0501": "d", "\u051b": "q", "\u051d": "w",
    "\u0561": "w", "\u0563": "q", "\u0566": "q", "\u0570": "h", "\u0578": "n", "\u057c": "n", "\u057d": "u",
    "\u0581": "g", "\u0584": "f", "\u0585": "o",
}


@pytest.mark.parametrize(("letter", "latin"), sorted({**CAPITALS, **SMALL}.items()))
def test_a_name_with_a_letter_drawn_like_a_latin_one_is_one_name_with_the_latin_name(letter: str, latin: str) -> None:
    # Before: the Greek capitals Η, Ν, Υ were folded as their small letters (n, v, u: "ΗΑΝΝΑ" was "navva", not
    # "HANNA"), Β, Ε, Ζ, Μ, Τ and Cyrillic Н, Ү, Ѵ not at all
    assert look_alike_form(f"{letter}ol") == look_alike_form(f"{latin}ol")
    assert look_alike_form(f"Ro{letter}") == look_alike_form(f"Ro{latin}")


def test_a_name_in_greek_capitals_that_reads_as_a_latin_one_is_that_name() -> None:
    assert look_alike_form("\u0397\u0391\u039d\u039d\u0391") == look_alike_form("HANNA") == "hanna"
    assert look_alike_form("\u03a4\u039f\u039d\u03a5") == look_alike_form("Tony")


CYRILLIC_NAMES = ["\u0410\u043d\u043d\u0430", "\u041d\u0430\u0442\u0430\u043b\u044c\u044f",
                  "\u041c\u0430\u043a\u0441\u0438\u043c"]


@pytest.mark.parametrize("name", CYRILLIC_NAMES)  # Анна, Наталья, Максим
def test_a_cyrillic_name_in_capitals_is_still_one_name_with_it_in_small_letters(name: str) -> None:
    assert look_alike_form(name.upper()) == look_alike_form(name)


@pytest.mark.parametrize(("one", "other"), [("\u0404\u0432\u0433\u0435\u043d", "\u0415\u0432\u0433\u0435\u043d"),
                                            ("\u0404\u0412\u0413\u0415\u041d", "\u0415\u0412\u0413\u0415\u041d"),
                                            ("Ayd\u0131n", "Aydin")])
def test_letters_of_their_own_alphabet_stay_apart_in_capitals_too(one: str, other: str) -> None:
    assert look_alike_form(one) != look_alike_form(other)


@pytest.mark.parametrize("text", ["\u0399\u039df_0123456789",  # Greek capitals Ι, Ν: read "INf_"
                                  "INF_\u0391\u0392\u0395" + "0" * 10,  # Greek capital hex letters A, B, E
                                  "\U0001d6b0\U0001d6b4F_0123456789"])  # mathematical bold capital iota, nu
def test_an_id_written_in_greek_capitals_passes_for_one(text: str) -> None:
    # Before: Ν was read as ν, a v: "ΙΝF_0123456789" was taken as a name and shown where an id is read
    assert looks_like_an_id(text)


@pytest.mark.parametrize(("small", "capitals"), [("\u03bc\u03b1\u03c1\u03b9\u03b1", "\u039c\u0391\u03a1\u0399\u0391"),
                                                 ("\u03b5\u03bb\u03b5\u03bd\u03b1", "\u0395\u03bb\u03b5\u03bd\u03b1"),
                                                 ("\u03c4\u03b1\u03c3\u03bf\u03c3", "\u03a4\u0391\u03a3\u039f\u03a3"),
                                                 ("\u03b6\u03b1\u03c7\u03bf\u03c3", "\u0396\u03b1\u03c7\u03bf\u03c3")])
def test_a_greek_name_in_capitals_or_with_a_capital_first_is_still_one_name_with_it_in_small_letters(
        small: str, capitals: str) -> None:
    # μαρια / ΜΑΡΙΑ, ελενα / Ελενα, τασος / ΤΑΣΟΣ, ζαχος / Ζαχος. Before: Μ, Ε, Τ, Ζ were folded as the Latin
    # M, E, T, Z and their small letters μ, ε, τ, ζ as themselves: case no longer ignored, and an analyst typing
    # "ελενα" was told no influencer has the name "Ελενα" has
    assert look_alike_form(small) == look_alike_form(capitals)
