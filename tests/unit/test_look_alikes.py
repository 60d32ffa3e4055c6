"""Letters of other scripts drawn like Latin ones, capitals and small letters, as Unicode's confusables pair them
with [A-Za-z0-9]: a name mixing them with Latin letters is one name with the Latin one it passes for, a name all in
one script is compared in that script, and a word of them passes for an id where the Latin one would."""

from __future__ import annotations

import pytest

from services.common.look_alikes import as_latin, look_alike_form, looks_like_an_id

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


# Pairs a reader sees as one name, and pairs a reader tells apart, in each script and across scripts
ONE_NAME = [
    ("\u0397\u039b\u0399\u0391\u03a3", "\u0397\u03bb\u03af\u03b1\u03c2"),  # ΗΛΙΑΣ, Ηλίας: no tonos in capitals
    ("\u0391\u039d\u039d\u0391", "\u0391\u03bd\u03bd\u03b1"),  # ΑΝΝΑ, Αννα: Ν like N, ν like v
    ("\u03a5\u03a0\u0391\u03a4\u0399\u0391", "\u03c5\u03c0\u03b1\u03c4\u03af\u03b1"),  # ΥΠΑΤΙΑ, υπατία
    ("\u0397\u0391\u039d\u039d\u0391", "\u03b7\u03b1\u03bd\u03bd\u03b1"),  # ΗΑΝΝΑ, ηαννα
    ("ELIAS", "Elias"), ("Zo\u00eb", "ZO\u00cb"),
    ("\u0410\u043d\u043d\u0430", "\u0410\u041d\u041d\u0410"),  # Анна, АННА
    ("\u0130pek", "ipek"), ("\u0130PEK", "\u0130pek"), ("AYDIN", "Aydin"),  # Turkish İ is i
    ("\u0410nn", "Ann"),  # Cyrillic А among Latin letters
    ("\u0397anna", "Hanna"),  # Greek capital Η among Latin letters: H, though η passes for n
    ("A\u043d\u043d\u0430", "\u0410\u043d\u043d\u0430"),  # Latin A among Cyrillic letters: Анна
    ("\u0397\u039bI\u0391\u03a3", "\u0397\u03bb\u03af\u03b1\u03c2"),  # Latin I among Greek capitals
    ("\u0251nn", "Ann"), ("\uff21\uff4e\uff4e", "Ann"), ("Ann\ufe0f", "Ann"),  # Latin alpha, full-width, selector
]
TWO_NAMES = [
    ("\u0410\u043d\u043d\u0430", "Ahha"),  # Анна is no Ahha: н is drawn like a small capital ʜ
    ("\u0397\u0391\u039d\u039d\u0391", "HANNA"),  # all Greek: a Greek name, one with ηαννα, which is not hanna
    ("\u0397\u039b\u0399\u0391\u03a3", "ELIAS"),
    ("Ayd\u0131n", "Aydin"), ("Ayd\u0131n", "AYDIN"),  # dotless ı is a letter of its own
    ("Zo\u00eb", "Zoe"), ("\u0404\u0432\u0433\u0435\u043d", "\u0415\u0432\u0433\u0435\u043d"),  # accents stay
    ("\u03ca\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2", "\u03b9\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2"),  # dialytika
]


@pytest.mark.parametrize(("one", "other"), ONE_NAME + [(b, a) for a, b in ONE_NAME])
def test_names_a_reader_sees_as_one_name_compare_as_one_either_way_round(one: str, other: str) -> None:
    # Before: ΗΛΙΑΣ and Ηλίας, ΑΝΝΑ and Αννα were two names (Greek capitals folded as the Latin capitals they look
    # like, small letters as the Latin small letters), while Анна and Ahha were one
    assert look_alike_form(one) == look_alike_form(other)


@pytest.mark.parametrize(("one", "other"), TWO_NAMES + [(b, a) for a, b in TWO_NAMES])
def test_names_a_reader_tells_apart_compare_as_two_either_way_round(one: str, other: str) -> None:
    assert look_alike_form(one) != look_alike_form(other)


def test_a_host_label_in_another_scripts_look_alikes_still_passes_for_the_latin_word() -> None:
    assert as_latin("\u0430\u0440\u0440\u04cf\u0435") == "apple"  # аррӏе, all Cyrillic
    assert as_latin("\u0397\u0391\u039d\u039d\u0391") == as_latin("HANNA") == "hanna"


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
