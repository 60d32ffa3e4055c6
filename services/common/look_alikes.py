"""Names and words as the eye compares them: full-width and compatibility forms, case and variation selectors
folded, each name compared in its own script and a name mixing scripts as the look-alikes it is made of
(look_alike_form: two names a reader cannot tell apart are one name), what a text passes for in Latin letters
(as_latin: a host label), and whether a word would pass for an influencer id (looks_like_an_id). Cleaning a name
is name_text's job."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from services.common.name_text import is_removed

# Letters of other scripts drawn like the Latin letters and digits of an influencer id, as a reader sees them
# (Unicode's confusables for [a-z0-9], Cyrillic, Greek, Armenian and Latin variants; NFKC already folds the
# full-width, mathematical and circled forms): mapped to the letter they pass for.
_LOOKALIKES = str.maketrans({
    "\u0430": "a", "\u03b1": "a", "\u0251": "a", "\u0432": "b", "\u0441": "c", "\u03f2": "c", "\u0501": "d",
    "\u0435": "e", "\u0454": "e", "\u0192": "f", "\ua799": "f", "\u0261": "g", "\u04bb": "h", "\u0570": "h",
    "\u0456": "i", "\u03b9": "i", "\u0131": "i", "\u0458": "j", "\u03f3": "j", "\u03ba": "k", "\u043a": "k",
    "\u04cf": "l", "\u043c": "m", "\u043f": "n", "\u03b7": "n", "\u0578": "n", "\u0274": "n", "\u043e": "o",
    "\u03bf": "o", "\u0585": "o", "\u0440": "p", "\u03c1": "p", "\u051b": "q", "\u0433": "r", "\u0455": "s",
    "\u0442": "t", "\u03c5": "u", "\u057d": "u", "\u03bd": "v", "\u051d": "w", "\u0445": "x", "\u03c7": "x",
    "\u0443": "y", "\u0290": "z", "\u02cd": "_", "\u2017": "_", "\uff3f": "_",
    # small letters drawn like a Latin one, or like its small capital as Cyrillic в, м, т are (н: ʜ), so that a
    # capital folded to them (Н, Ү, Ѵ) reads as the Latin capital it looks like
    "\u043d": "h", "\u04af": "y", "\u0475": "v", "\u0461": "w", "\u050d": "g", "\u04bd": "e", "\u0431": "6",
    "\u0437": "3", "\u03b3": "y", "\u03f1": "p", "\u0561": "w", "\u0563": "q", "\u0566": "q",
    "\u057c": "n", "\u0581": "g", "\u0584": "f",
})
# Capitals drawn like a Latin capital while their small letter is drawn like another Latin letter or none (Greek Η
# like H, its η like n; Ν like N, ν like v; Υ like Y, υ like u; Β, Ε, Ζ, Μ, Τ like B, E, Z, M, T): mapped before case
# is folded (id_skeleton, as_latin), else casefold made Η the n its small letter passes for, and "ΙΝF_0123456789" in
# Greek capitals was no id. The Cyrillic ones fold by their small letters (_LOOKALIKES); names: _CAPITALS_AS_LATIN.
_CAPITALS = str.maketrans({
    "\u037f": "j", "\u0391": "a", "\u0392": "b", "\u0395": "e", "\u0396": "z", "\u0397": "h", "\u0399": "i",
    "\u039a": "k", "\u039c": "m", "\u039d": "n", "\u039f": "o", "\u03a1": "p", "\u03a4": "t", "\u03a5": "y",
    "\u03a7": "x", "\u03d2": "y", "\u03dc": "f", "\u03f9": "c", "\u03fa": "m", "\u054f": "s",
})
# The Latin letter each of them is drawn like, capitals and small letters apart, for a name that mixes scripts
# ("Аnn" with a Cyrillic А, "Ηanna" with a Greek Η): capitals as their Latin capital (Unicode's confusables: Greek
# Η is H though η is n, Cyrillic Н is H though н is a small capital ʜ); small letters as _LOOKALIKES maps them, but
# the letters that stand beside the Latin-looking one in their own alphabet (Ukrainian є beside е, Turkish dotless ı
# beside i: told apart at a glance, as Zoë is from Zoe) and the small letters drawn like small capitals (Cyrillic в,
# м, н, т: ʙ, ᴍ, ʜ, ᴛ, which _LOOKALIKES maps for ids, where case is folded first).
_CAPITALS_AS_LATIN = {**{chr(k): v.upper() for k, v in _CAPITALS.items()},
                      "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u0410": "A", "\u0412": "B", "\u0415": "E",
                      "\u0417": "3", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P",
                      "\u0421": "C", "\u0422": "T", "\u0423": "Y", "\u0425": "X", "\u0474": "V", "\u04ae": "Y",
                      "\u050c": "G", "\u051c": "W", "\u054d": "U", "\u0555": "O"}
_SMALL_AS_LATIN = {chr(k): v for k, v in _LOOKALIKES.items() if chr(k) not in "\u0454\u0131\u0432\u043c\u043d\u0442"}
_AS_LATIN = {**_SMALL_AS_LATIN, **_CAPITALS_AS_LATIN}
# Greek marks that capitals do not carry (tonos and the polytonic accents and breathings: "ΗΛΙΑΣ" is "Ηλίας" in
# capitals), dropped from Greek letters when names are compared; the dialytika stays (capitals keep it: Ϊ).
_GREEK_ACCENTS = frozenset("\u0300\u0301\u0313\u0314\u0342\u0343")
_LUNATE_SIGMAS = re.compile("([\u03f2\u03f9])")


def script_of(letter: str) -> str:
    """The script of `letter` as the first word of its Unicode name, titled ("Latin", "Cyrillic", "Greek"; CJK:
    "Han"): close enough for names and host labels, and needs no table of ours."""
    word = unicodedata.name(letter, "UNKNOWN").split()[0]
    return "Han" if word == "CJK" else word.title()


def _letter_scripts(text: str) -> list[str]:
    """The script of each letter of `text`, in order (marks, digits, blanks and modifier letters have none)."""
    return [script_of(c) for c in text if unicodedata.category(c) in ("Lu", "Ll", "Lt", "Lo")]


# The letter of each script drawn like a Latin one (capitals and small letters apart), to write a Latin letter of
# a name in that script's look-alike: the first in code-point order when several are ("Aнна", Latin A, is "Анна").
def _by_script() -> dict[str, dict[str, str]]:
    latin_as: dict[str, dict[str, str]] = {}
    for letter, latin in sorted(_AS_LATIN.items()):
        latin_as.setdefault(script_of(letter), {}).setdefault(latin, letter)
    return latin_as


_LATIN_AS = _by_script()
# Latin letters drawn like another Latin letter (script ɑ, ɡ, hooked ƒ, ʐ, small capital ɴ): the Latin script's own
# look-alikes, folded in any name
_LATIN_VARIANTS = {ord(c): v for c, v in _SMALL_AS_LATIN.items() if script_of(c) == "Latin"}


# An influencer id (services/common/boundary.py INFLUENCER_ID) as a reader takes it: "inf_" and 10 to 18 letters
# or digits, the hex ones not told from their look-alikes (O for 0, l for 1)
_ID_SHAPE = re.compile(r"inf_[0-9a-z]{10,18}")


def id_skeleton(text: str) -> str:
    """`text` as a reader would compare it with an influencer id: compatibility forms folded (NFKC: full-width
    `ｉｎｆ＿`, mathematical `𝗂𝗇𝖿`), case and accents dropped, digits of any script as ASCII digits, and the
    letters of other scripts drawn like Latin ones (Cyrillic `і`, `о`, Greek `ο`) as those; invisible characters
    dropped and blanks at either end stripped."""
    # mapped before NFKD too: it takes the double low line (U+2017) apart into a blank and a combining mark
    shown = text.strip().translate(_CAPITALS).translate(_LOOKALIKES)
    decomposed = unicodedata.normalize("NFKD", shown).translate(_CAPITALS).casefold()
    bare = unicodedata.normalize("NFKC", "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf")
                                                 and not is_removed(c)))
    digits = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in bare)
    return digits.translate(_LOOKALIKES)


def _is_variation_selector(char: str) -> bool:
    return "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef"


def as_latin(text: str) -> str:
    """`text` as the Latin letters it passes for, whatever its scripts (a host label: all-Cyrillic `аррӏе` passes
    for `apple`): compatibility forms folded (NFKC), case ignored, variation selectors dropped, other scripts'
    digits as ASCII and every letter drawn like a Latin one as that one (capitals as the capital they look like:
    Greek `Η` as `H`, not as the `n` its small letter `η` passes for). Accents stay."""
    shown = text.translate(_CAPITALS).translate(_LOOKALIKES)  # before NFKC too: it makes Greek ϲ and Ϲ sigmas
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", shown).translate(_CAPITALS).casefold())
    kept = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in folded if not _is_variation_selector(c))
    return kept.translate(_LOOKALIKES)


def look_alike_form(name: str) -> str:
    """`name` (cleaned) as a reader compares it with another: two names are one name when their forms are equal.

    Compatibility forms folded (NFKC: full-width `Ａｎｎ`), variation selectors dropped (`Ann\ufe0f` draws as `Ann`),
    other scripts' digits as ASCII. A name whose letters are all of one script is compared in that script, case
    ignored as that script's readers ignore it: `ΗΛΙΑΣ` is `Ηλίας` (Greek capitals carry no tonos, and `Η` is `η`
    though one is drawn like H and the other like n), `İpek` is `ipek`; and `Анна` in Cyrillic is not the Latin
    `Ahha`. A name that mixes scripts is a disguise: each letter of another script than most of its letters (Latin
    on a tie) is written as the look-alike of that script, capitals and small letters apart, before case is folded
    (`Аnn` with a Cyrillic `А` is `Ann`, `Ηanna` with a Greek `Η` is `Hanna`, `Aнна` with a Latin `A` is `Анна`).
    Accents stay: `Zoë` is not `Zoe`, nor `Євген` `Евген`, nor `Aydın` `Aydin`. A whole name in another script's
    look-alikes (`ΗΑΝΝΑ` all in Greek) is a name of that script, not `HANNA`: in its own script it must be one name
    with its small letters (`ηαννα`), which read otherwise."""
    # NFKC makes the lunate sigmas (ϲ, Ϲ: drawn like c, C) plain sigmas: kept apart, and folded as sigmas below
    parts = _LUNATE_SIGMAS.split(name)
    text = "".join(c for part in parts for c in (part if _LUNATE_SIGMAS.fullmatch(part)
                                                 else unicodedata.normalize("NFKC", part))
                   if not _is_variation_selector(c))
    scripts = Counter(_letter_scripts(text))
    if len(scripts) > 1:
        most = max(scripts.values())
        main = "Latin" if scripts["Latin"] == most else next(s for s in _letter_scripts(text) if scripts[s] == most)
        text = "".join(_in_script(c, main) for c in text)
    folded = unicodedata.normalize("NFD", text.replace("\u0130", "i").casefold())  # İ: i, not casefold's i + dot
    bare = _without_greek_accents(folded)
    kept = unicodedata.normalize("NFC", bare).translate(_LATIN_VARIANTS).replace("\u03f2", "\u03c3")
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in kept)


def _in_script(char: str, script: str) -> str:
    """`char` as the letter of `script` it is drawn like (itself when it is of `script`, or like none)."""
    if unicodedata.category(char) not in ("Lu", "Ll", "Lt", "Lo") or script_of(char) == script:
        return char
    latin = _AS_LATIN.get(char, char if script_of(char) == "Latin" else "")
    if script == "Latin":
        return latin or char
    return _LATIN_AS.get(script, {}).get(latin, char)


def _without_greek_accents(decomposed: str) -> str:
    """`decomposed` (NFD) without the _GREEK_ACCENTS that sit on a Greek letter."""
    kept, greek = [], False
    for c in decomposed:
        if not unicodedata.combining(c):
            greek = script_of(c) == "Greek"
        elif greek and c in _GREEK_ACCENTS:
            continue
        kept.append(c)
    return "".join(kept)


def looks_like_an_id(text: str) -> bool:
    """Whether `text` would pass for an influencer id (`inf_` and 10 to 18 letters or digits) to a reader:
    written in look-alike letters, full-width or accented characters, capitals, or an id itself."""
    return _ID_SHAPE.fullmatch(id_skeleton(text)) is not None
