"""Display names as they may be stored and shown: no control or bidi-override characters, blanks collapsed.

A name reaches terminals (the CLI prints it), spreadsheets (the CSV exports) and pages. ESC starts terminal
escape sequences, BEL rings, NUL cuts C strings, and the bidi overrides and isolates (U+202A-U+202E,
U+2066-U+2069) make "Alice\u202egnp.exe" read as "Aliceexe.png". Such characters are removed, not refused:
a name pasted from a chat or a PDF often carries a stray one, and the analyst sees the stored name in the
answer. Joiners (U+200C, U+200D) stay inside a name: Persian, Indic scripts and emoji sequences need them;
at either end they are invisible and are stripped with the blanks.
"""

from __future__ import annotations

import unicodedata

from services.common.boundary import escaped

# Format characters that reorder or hide text: bidi embeddings, overrides, isolates and marks, zero-width
# space and word joiner, the BOM, the Mongolian vowel separator, invisible maths operators. And others that
# show nothing: the soft hyphen (seen only where a line breaks: it hid an id's form, "inf\u00ad_00000000a2"),
# the combining grapheme joiner, the Hangul fillers (letters by their category, and the usual "invisible
# nickname").
_INVISIBLE = frozenset(
    "\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\ufeff\ufff9\ufffa\ufffb"
    "\u00ad\u034f\u115f\u1160\u3164\uffa0")
_JOINERS = "\u200c\u200d"
# Characters of a name as given, at most, for each it may keep: room for a mark or joiner after every character
# (a name pasted with a right-to-left mark after each word is taken), never for a megabyte of them.
RAW_FACTOR = 10


def too_long_as_given(name: str, max_chars: int = 200) -> bool:
    """Whether `name`, as given, has more characters than any name of `max_chars` may carry (RAW_FACTOR for each):
    refused before it is cleaned, by clean_name and by the page, which cleans a name to count it."""
    return len(name) > max_chars * RAW_FACTOR


class BadName(ValueError):
    """A name that is empty once its invisible characters are gone, or too long."""


def is_removed(char: str) -> bool:
    """Whether `char` is dropped from names: a control (C0, DEL, C1), a line or paragraph separator, a lone
    surrogate, or an invisible format character of _INVISIBLE."""
    category = unicodedata.category(char)
    return category in ("Cc", "Cs", "Zl", "Zp") or char in _INVISIBLE


def for_terminal(text: str) -> str:
    """`text` (a stored name, a URL, a message quoting them) as a terminal may print it: every character that
    names drop (is_removed: controls such as ESC, bidi overrides and isolates, zero-width and other invisible
    characters) written as its escape (`\\x1b`, `\\u202e`), the rest as it is; joiners inside a name stay
    (scripts and emoji need them). A name stored before names were cleaned, or a URL, may still hold them: printed
    raw, ESC sequences drive the analyst's terminal and U+202E shows "Alice\u202egnp.exe" as "Aliceexe.png"."""
    return escaped(text, is_removed)  # boundary's one escaper, with names' choice of characters


def clean_name(name: str, max_chars: int = 200) -> str:
    """`name` with controls, bidi/zero-width format characters and tag characters that make no flag removed (tabs,
    line breaks and the Braille blank become blanks), runs of blanks collapsed to one, stripped, and
    NFC-normalised. "" stays "" (no name: the one way to clear a name, on the page and the CLI alike).

    Raises BadName when `name` had characters but none that show (blanks, line breaks or tabs alone: was taken as
    "" and cleared the name; marks, variation selectors, tags or blank glyphs alone: an "invisible nickname"), or
    has more than `max_chars` after cleaning (characters, not bytes), or more than RAW_FACTOR times `max_chars` as
    given, before any is looked at.
    """
    if too_long_as_given(name, max_chars):
        # Cleaning takes ~2 us a character: a 31 MB name (gRPC carries 32 MiB) held a server thread and the GIL
        # for over a minute before it was refused as too long, and "Ann" and 10 million zero-width spaces was kept.
        raise BadName(f"name {name[:40]!r}... is longer than {max_chars} characters ({len(name):,} as given, "
                      f"over {max_chars * RAW_FACTOR:,} even with invisible ones)")
    spaced = "".join(" " if char in "\t\n\r\v\f\x85\u2800" else char for char in name)  # the Braille blank too
    kept = _without_stray_tags("".join(char for char in spaced if not is_removed(char)))
    cleaned = unicodedata.normalize("NFC", " ".join(kept.split())).strip(" " + _JOINERS)
    if name and not any(_shows(char) for char in cleaned):
        raise BadName(f"name {name[:40]!r} has no visible characters")
    if len(cleaned) > max_chars:
        raise BadName(f"name {cleaned[:40]!r}... is longer than {max_chars} characters")
    return cleaned


# Characters drawn as nothing that are letters or symbols by their category: the Braille blank, Khmer's
# inherent vowels, Mongolian free variation selectors, the musical null notehead and the beams' format marks
# (with the Hangul fillers, removed above, the usual "invisible nickname")
_BLANK_GLYPHS = frozenset("\u2800\u17b4\u17b5\u180b\u180c\u180d\u180f\U0001d159" +
                          "".join(chr(c) for c in range(0x1D173, 0x1D17B)))
_BLACK_FLAG = "\U0001f3f4"  # a tag sequence after it is a subdivision flag (Scotland: the flag and 6 tags)


def _is_tag(char: str) -> bool:
    return "\U000e0000" <= char <= "\U000e007f"


def _without_stray_tags(text: str) -> str:
    """`text` without the tag characters (U+E0000-U+E007F) that make no flag: invisible, they spell hidden
    ASCII after a name ("Ann" and the tags of any text, read by whatever processes the name); in a subdivision
    flag (the black flag, then tags) they stay."""
    kept: list[str] = []
    for char in text:
        if _is_tag(char) and not (kept and (kept[-1] == _BLACK_FLAG or _is_tag(kept[-1]))):
            continue
        kept.append(char)
    return "".join(kept)


def _shows(char: str) -> bool:
    """Whether `char` draws something by itself: not a blank, a mark on another character, a format character,
    a variation selector or a tag, nor one of _BLANK_GLYPHS."""
    return unicodedata.category(char) not in ("Zs", "Mn", "Me", "Cf") and char not in _BLANK_GLYPHS


def leading_visible(text: str) -> str:
    """`text` without its leading blanks, controls and invisible format characters (what a reader or a
    spreadsheet takes as its start: a zero-width space before "=" still starts a formula)."""
    for k, char in enumerate(text):
        if not (char.isspace() or is_removed(char) or unicodedata.category(char) == "Cf"):
            return text[k:]
    return ""
