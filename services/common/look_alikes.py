"""Names and words as the eye compares them: look-alike letters of other scripts, full-width and compatibility
forms, case, accents and variation selectors folded (look_alike_form: two names a reader cannot tell apart are one
name), and whether a word would pass for an influencer id (looks_like_an_id). Cleaning a name is name_text's job."""

from __future__ import annotations

import re
import unicodedata

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
# is folded, else casefold made Η the n its small letter passes for, and "ΗΑΝΝΑ" in Greek capitals was not "HANNA"
# (nor "ΙΝF_0123456789" an id). The Cyrillic ones fold by their small letters (_LOOKALIKES).
_CAPITALS = str.maketrans({
    "\u037f": "j", "\u0391": "a", "\u0392": "b", "\u0395": "e", "\u0396": "z", "\u0397": "h", "\u0399": "i",
    "\u039a": "k", "\u039c": "m", "\u039d": "n", "\u039f": "o", "\u03a1": "p", "\u03a4": "t", "\u03a5": "y",
    "\u03a7": "x", "\u03d2": "y", "\u03dc": "f", "\u03f9": "c", "\u03fa": "m", "\u054f": "s",
})
# What names are compared by: the look-alikes but the letters that stand beside the Latin-looking one in their own
# alphabet (Ukrainian є beside е, Turkish dotless ı beside i): told apart at a glance, as Zoë is from Zoe, they made
# Євген and Евген, Aydın and Aydin one name. An id holds neither letter, so a reader takes them for e and i there.
_NAME_LOOKALIKES = {k: v for k, v in _LOOKALIKES.items() if chr(k) not in "\u0454\u0131"}
# The small letters of _CAPITALS that no look-alike folds otherwise (Greek β, ε, ζ, μ, τ, ϝ, ϻ, Armenian տ), folded
# as their capitals: a name in capitals is one name with it in small letters ("ΜΑΡΙΑ", "μαρια"), case ignored. η, ν, υ
# keep the Latin letter they are drawn like (n, v, u), their capitals theirs (H, N, Y).
_SMALL_AS_CAPITALS = {ord(chr(k).lower()): v for k, v in _CAPITALS.items()
                      if chr(k).lower() != chr(k) and ord(chr(k).lower()) not in _LOOKALIKES}
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


def look_alike_form(name: str) -> str:
    """`name` (cleaned) as the eye compares it with another: compatibility forms folded (NFKC: full-width
    `Ａｎｎ`), case ignored, variation selectors dropped (`Ann\ufe0f` draws as `Ann`), other scripts' digits as
    ASCII and letters drawn like Latin ones as those (Cyrillic `А` in `Аnn`, Greek capital `Η` in `Ηanna`: as `H`,
    not as the `n` its small letter `η` passes for). Accents stay: `Zoë` is not `Zoe`,
    nor `Євген` `Евген`, nor `Aydın` `Aydin` (_NAME_LOOKALIKES)."""
    shown = name.translate(_CAPITALS).translate(_NAME_LOOKALIKES)  # before NFKC too: it makes Greek ϲ and Ϲ sigmas
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", shown).translate(_CAPITALS).casefold())
    kept = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in folded if not _is_variation_selector(c))
    return kept.translate(_NAME_LOOKALIKES).translate(_SMALL_AS_CAPITALS)


def looks_like_an_id(text: str) -> bool:
    """Whether `text` would pass for an influencer id (`inf_` and 10 to 18 letters or digits) to a reader:
    written in look-alike letters, full-width or accented characters, capitals, or an id itself."""
    return _ID_SHAPE.fullmatch(id_skeleton(text)) is not None
