"""Whether a Unicode host name may fool a reader (pure: no I/O). Ingest refuses a label that mixes scripts and
warns of a name passing for an ASCII one; the page shows either in its IDNA ASCII form (`xn--...`), as browsers
do (Chromium's IDN display policy, after UTS 39's "highly restrictive" level), so that `pаypal.com` with a
Cyrillic `а` is never read as paypal.com."""

from __future__ import annotations

import unicodedata

import idna

from services.common.host_names import A_LABEL, FULL_STOPS, FULL_STOPS_KEPT
from services.common.look_alikes import as_latin, script_of

# Scripts that one label may mix without doubt: Japanese, Chinese and Korean writing with Latin (UTS 39's
# "highly restrictive" level).
_ALLOWED_MIXES = (frozenset({"Latin", "Han", "Hiragana", "Katakana"}), frozenset({"Latin", "Han", "Bopomofo"}),
                  frozenset({"Latin", "Han", "Hangul"}))
MAX_HOST_CHARS = 1024  # of a host looked at: longer ones are no host (a name has at most 253)


def labels(host: str) -> list[str]:
    """The labels of a Unicode host, split at any full stop UTS 46 reads as one, without the root's empty one."""
    parts = FULL_STOPS.split(host)
    return parts[:-1] if len(parts) > 1 and not parts[-1] else parts


def mixed_scripts(host: str) -> list[str]:
    """The scripts of the letters of the first label of `host` that mixes scripts beyond _ALLOWED_MIXES, in
    alphabetical order; [] when none does. A letter's script is the first word of its Unicode name (CJK: Han),
    close enough for the scripts hosts are written in; modifier letters (Japanese `ー`) belong to none."""
    for label in labels(host):
        scripts = {script_of(c) for c in label if unicodedata.category(c) in ("Lu", "Ll", "Lt", "Lo")}
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES):
            return sorted(scripts)
    return []


def passes_for(host: str, name: str) -> str:
    """The ASCII name the Unicode `host` (fetched as the ASCII `name`) passes for to the eye (all-Cyrillic
    `аррӏе.com`: 'apple.com'), or "" when it passes for none but itself."""
    latin = ".".join(map(as_latin, labels(host)))
    return latin if latin.isascii() and latin != name else ""


def doubts(host: str, name: str) -> list[str]:
    """What makes the Unicode `host` (fetched as `name`) look like another: a label mixing scripts (Cyrillic `а` in
    `pаypal`), or letters drawn like the Latin ones of another ASCII name (all-Cyrillic `аррӏе.com`)."""
    found = []
    if scripts := mixed_scripts(host):
        found.append(f"mixes scripts ({', '.join(scripts)})")
    if latin := passes_for(host, name):
        found.append(f"passes for {latin!r}")
    return found


def ascii_form_if_doubtful(host: str) -> str:
    """`host` as the page shows it: its IDNA ASCII form when it is a Unicode name (or one written in `xn--`
    labels) that mixes scripts or passes for another ASCII name; else itself, as written. A host IDNA refuses,
    or too long to be one, is left as written: ingest refuses it with its reason."""
    if len(host) > MAX_HOST_CHARS or host.isascii() and not A_LABEL.search(host):
        return host
    try:
        unicode = "".join(idna.ulabel(part) if A_LABEL.match(part) else part for part in FULL_STOPS_KEPT.split(host))
        name = idna.encode(unicode, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return host
    return name if doubts(unicode, name.rstrip(".").lower()) else host
