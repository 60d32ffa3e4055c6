"""How the report's tables are written for people and other tools: numbers rounded to what they can carry,
and no absolute server path. Pure pandas/numpy: a table in, a table out.

Scores are written as given (a manifest's 1.3141 stays 1.3141); every statistic computed from them (means,
intervals, effects, p-values...) to SIGNIFICANT significant digits; times and durations in seconds to
SECOND_DECIMALS decimals (a sampled frame is a second or so apart). A local location is written relative to
the allowed root (settings.allowed_root), or, without one, from its manifest's folder (relative_locations); an
http(s) URL as is.
"""

from __future__ import annotations

import math
import posixpath
import unicodedata

import numpy as np
import pandas as pd

SIGNIFICANT = 4
SECOND_DECIMALS = 2

# Per table of report.TABLES: the columns rounded to SIGNIFICANT digits, and those in seconds.
STATISTICS = {
    "influencers": ("avg_performance", "median_performance", "std_performance", "ci_low", "ci_high",
                    "shrunken_mean", "consistency", "attributed_effect", "p_value", "q_value"),
    "appearances": (),
    "videos": (),
}
SECONDS = {
    "influencers": (),
    "appearances": ("first_seen_s", "last_seen_s"),
    "videos": ("duration_s",),
}


def significant(values: np.ndarray | pd.Series, digits: int = SIGNIFICANT) -> np.ndarray:
    """`values` rounded to `digits` significant digits (half to even); 0, NaN and +-inf stay as they are.
    Computed as a whole number times a power of ten, so that the written text is the short one (1.788, not
    1.7880000000000003)."""
    v = np.asarray(values, dtype=float)
    out = v.copy()
    finite = np.isfinite(v) & (v != 0)
    if not finite.any():
        return out
    exponent = np.floor(np.log10(np.abs(v[finite]))).astype(int) - (digits - 1)
    up = exponent >= 0
    rounded = np.empty(exponent.shape)
    rounded[up] = np.round(v[finite][up] / 10.0 ** exponent[up]) * 10.0 ** exponent[up]
    rounded[~up] = np.round(v[finite][~up] * 10.0 ** -exponent[~up]) / 10.0 ** -exponent[~up]
    out[finite] = rounded
    return out


def statistic_text(value: object, signed: bool = False) -> str:
    """A statistic as the page shows it: the number every export writes for it (`significant`, as `rounded`
    rounds it), with its SIGNIFICANT digits written out (1.875, 1.300 where a file writes 1.3, 0.00003385 where
    it writes 3.385e-05, 12,350 where it writes 12350.0); `signed`: "+" before a positive one. "–" for none
    (None, NaN). The page rounds nothing else, so that it never shows 1.87 where a file says 1.875 (rounded
    again, 1.88)."""
    if value is None or not isinstance(value, int | float | np.floating | np.integer):
        return "–"
    number = float(value)
    if not math.isfinite(number):
        return "–" if number != number else str(number)
    shown = float(significant(np.array([number]))[0])
    decimals = SIGNIFICANT - 1 - (math.floor(math.log10(abs(shown))) if shown else 0)
    text = f"{shown:,.{max(decimals, 0)}f}"
    return "+" + text if signed and number > 0 else text


def score_text(value: object) -> str:
    """A score as the page shows it: as the manifest gave it, as every export writes it (0.6722, not 0.67;
    2 for 2.0); "–" for none."""
    if value is None or not isinstance(value, int | float | np.floating | np.integer) or value != value:
        return "–"
    return repr(float(value)).removesuffix(".0")


def rounded(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of table `name` (a key of STATISTICS) with its statistics and seconds rounded."""
    out = frame.copy()
    for column in STATISTICS[name]:
        if column in out:
            out[column] = significant(out[column].to_numpy(dtype=float))
    for column in SECONDS[name]:
        if column in out:
            out[column] = out[column].astype(float).round(SECOND_DECIMALS)
    return out


def is_local(location: str) -> bool:
    """True for a server path (absolute), False for a URL or an empty location."""
    return location.startswith("/")


def relative_locations(locations: pd.Series, urls: pd.Series, root: str = "") -> pd.Series:
    """Each local location relative to `root` when under it (its file name when not); without a root, the
    name of its manifest's folder and the path its URL (`urls`, as the manifest gave it, row for row) gave
    there ("smoke/videos/a.mp4"), or, for a URL that is no plain path under that folder (absolute, `..`, a
    link resolved elsewhere), its own folder's name and its file name. A row's location depends on that row
    alone: it was relative to the folder every local location of the table shared, so that each one changed
    once a manifest of another folder was ingested. URLs and empty text as they are."""
    base = posixpath.normpath(root).rstrip("/") if root else ""

    def relative(value: object, url: object) -> object:
        if not (isinstance(value, str) and is_local(value)):
            return value
        if base:
            return posixpath.relpath(value, base) if value.startswith(base + "/") else posixpath.basename(value)
        return _under_its_manifests_folder(value, url if isinstance(url, str) else "")

    return pd.Series([relative(v, u) for v, u in zip(locations, urls, strict=True)], index=locations.index,
                     dtype=object)


def _under_its_manifests_folder(location: str, url: str) -> str:
    """`location` (absolute) from the name of the folder its relative `url` was read from; else from the name
    of its own folder. `url` is matched as fetch found the file: a Windows path's backslashes as separators too,
    its names in either Unicode form (the names shown are the file's own)."""
    parts = location.split("/")
    for spelling in dict.fromkeys((url, url.replace("\\", "/"))):
        given = posixpath.normpath(spelling) if spelling and not spelling.startswith("/") and "://" not in spelling \
            else ""
        named = given.split("/")
        if given and given != "." and not given.startswith("../") and given != ".." and len(parts) > len(named) \
                and [_nfc(p) for p in parts[-len(named):]] == [_nfc(p) for p in named]:
            folder, shown = "/".join(parts[:-len(named)]), "/".join(parts[-len(named):])
            break
    else:
        shown, folder = posixpath.basename(location), posixpath.dirname(location)
    name = posixpath.basename(folder)
    return f"{name}/{shown}" if name else shown


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def without_root(text: str, root: str) -> str:
    """`text` (an error message) with the absolute `root` folder taken out: paths under it made relative, and
    the folder itself left unnamed ("outside the allowed folder /srv/media" -> "outside the allowed folder")."""
    if not root or not isinstance(text, str):
        return text
    folder = posixpath.normpath(root).rstrip("/")
    return text.replace(folder + "/", "").replace(" " + folder, "").replace(folder, "")
