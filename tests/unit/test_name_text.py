"""services.common.name_text: what a stored display name may hold."""

from __future__ import annotations

import time

import pytest

from services.common.boundary import escaped
from services.common.look_alikes import looks_like_an_id
from services.common.name_text import BadName, clean_name, for_terminal, leading_visible


@pytest.mark.parametrize(("given", "stored"), [
    ("  Ann   Lee ", "Ann Lee"),
    ("Ann\x1b[31m\x07\x00", "Ann[31m"),
    ("Ann\u202egnp.exe", "Anngnp.exe"),
    ("\u2067Ann\u2069 \u200fLee\u200e", "Ann Lee"),
    ("Ann\r\nLee\u2028Kim", "Ann LeeKim"),
    ("\ufeffZoë\u0085", "Zoë"),
    ("Cafe\u0301", "Café"),  # NFC: one code point, as typed on another keyboard
    ("\u200dمی\u200cخواهم\u200d", "می\u200cخواهم"),  # a joiner inside a word stays, at the ends it goes
    ("👩\u200d💻", "👩\u200d💻"),
    ("", ""),
])
def test_a_name_keeps_what_shows_and_loses_controls_and_bidi_overrides(given: str, stored: str) -> None:
    assert clean_name(given) == stored


def test_a_name_of_nothing_visible_or_too_long_is_refused() -> None:
    # Blanks alone were taken as "" (they cleared the name); "" alone is no name
    for given in ("\x1b\x07", "\u202e", " \u200b ", " ", "\n\t", "\u3000\r\n"):
        with pytest.raises(BadName, match="no visible characters"):
            clean_name(given)
    with pytest.raises(BadName, match="longer than 200 characters"):
        clean_name("a" * 201)
    assert clean_name("a" * 200 + "\x00" * 50) == "a" * 200



def test_a_name_ten_times_its_limit_as_given_is_refused_before_it_is_cleaned() -> None:
    # Cleaning a 4-million-character name took 10 s; "Ann" and a million zero-width spaces was kept as "Ann".
    started = time.perf_counter()
    for given in ("n" * 4_000_000, "Ann" + "\u200b" * 4_000_000):
        with pytest.raises(BadName, match=r"longer than 200 characters \(4,00\d,\d+ as given, over 2,000"):
            clean_name(given)
    assert time.perf_counter() - started < 0.5
    assert clean_name("Ann" + "\u200f" * 1_997) == "Ann", "a mark after every character is still taken"

def test_the_visible_start_of_a_text_skips_blanks_and_invisible_characters() -> None:
    assert leading_visible("\u200b\ufeff\u200e =1") == "=1"
    assert leading_visible("Ann") == "Ann" and leading_visible("\u200b") == ""


@pytest.mark.parametrize(("given", "stored"), [
    ("inf\u00ad_00000000a2", "inf_00000000a2"),  # a soft hyphen hid an id's form: shown as another's id
    ("Ann\u034fLee", "AnnLee"),  # the combining grapheme joiner: nothing to see
    ("Ann\u3164Lee", "AnnLee"),  # Hangul fillers, the usual "invisible nickname"
    ("Ann\uffa0\u115f\u1160", "Ann"),
])
def test_a_soft_hyphen_or_a_hangul_filler_is_as_invisible_as_a_zero_width_space(given: str, stored: str) -> None:
    assert clean_name(given) == stored


def test_a_name_of_hangul_fillers_or_soft_hyphens_alone_has_nothing_visible() -> None:
    for given in ("\u3164", "\u3164\u3164 \u3164", "\u00ad", "\uffa0\u034f"):
        with pytest.raises(BadName, match="no visible characters"):
            clean_name(given)


@pytest.mark.parametrize(("text", "passes"), [
    ("inf_0123456789", True), ("INF_00000000FFS", True),
    ("\u0456nf_0123456789", True),  # Cyrillic і
    ("\u0406NF_0123456789", True),  # Cyrillic capital І
    ("\uff49\uff4e\uff46\uff3f0123456789", True),  # full-width
    ("\U0001d5c2\U0001d5c7\U0001d5bf_0123456789", True),  # mathematical sans-serif
    ("\u0130nf_0123456789", True),  # Turkish dotted capital I
    ("inf\u2017" + "\u0663" * 10, True),  # a double low line, Arabic-Indic 3s
    ("\u03b9\u03b7f_0123456789", True),  # Greek iota and eta
    ("inf_o12345678l", True),  # letters for digits: a reader takes them for 0 and 1
    ("Ann Lee", False), ("inf_012345678", False), ("Ann \u0456nf_0123456789", False), ("Informant", False),
    ("\u0418\u0432\u0430\u043d", False),  # a Cyrillic name
])
def test_a_text_that_a_reader_would_take_for_an_influencer_id_is_told(text: str, passes: bool) -> None:
    assert looks_like_an_id(text) is passes


@pytest.mark.parametrize("invisible", [
    "\U000e0041\U000e006e\U000e006e",  # tag characters: invisible letters
    "\ufe0f\ufe0f",  # variation selectors alone
    "\u2800\u2800",  # the Braille blank
    "\u0301",  # a combining mark on nothing
    "\u17b4\u17b5", "\u180b", "\U0001d159",  # Khmer inherent vowels, a Mongolian selector, a null notehead
])
def test_a_name_of_characters_that_draw_nothing_is_refused(invisible: str) -> None:
    # Were stored: a name shown as nothing (an "invisible nickname"), on the page, in the CLI and the exports
    with pytest.raises(BadName, match="no visible characters"):
        clean_name(invisible)


@pytest.mark.parametrize(("given", "stored"), [
    ("Ann\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065", "Ann"),  # hidden ASCII ("ignore") after it
    ("Ann\u2800Lee\u2800", "Ann Lee"),  # the Braille blank is a blank
    ("Scot \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
     "Scot \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),  # a subdivision flag stays
    ("Ann \u2764\ufe0f", "Ann \u2764\ufe0f"),  # a variation selector on its emoji stays
])
def test_tags_that_make_no_flag_go_and_a_blank_glyph_is_a_blank(given: str, stored: str) -> None:
    assert clean_name(given) == stored


def test_a_terminal_name_and_a_log_line_escape_a_character_alike_and_differ_only_in_which_they_escape() -> None:
    # for_terminal had its own copy of boundary.escaped's loop; now it is escaped with names' choice of characters
    hostile = "Ann\x1b[31m\u202egnp.exe\n"
    assert for_terminal(hostile) == escaped(hostile) == "Ann\\x1b[31m\\u202egnp.exe\\n"
    assert for_terminal("👩\u200d💻") == "👩\u200d💻"  # the joiner an emoji needs, on a terminal
    assert escaped("👩\u200d💻") == "👩\\u200d💻"  # in a log line: shown, as any format character
    assert for_terminal("Ann\u3164") == "Ann\\u3164"  # a Hangul filler: printable, but invisible in a name
    assert escaped("Ann\u3164") == "Ann\u3164"
