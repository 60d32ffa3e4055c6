"""A probability that two influencers are one person, as the review queue says it: in words and as a whole
percentage ("likely the same — 82%")."""

from __future__ import annotations

# (lower bound, words): the first whose bound the probability reaches.
WORDS = ((0.8, "likely the same"), (0.5, "perhaps the same"), (0.2, "probably different"), (0.0, "unlikely"))


def in_words(p: float) -> str:
    """`p` in [0, 1] in words and as a whole percentage: 0.82 -> "likely the same — 82%". A probability that
    rounds to 0% or 100% without being it reads "under 1%" or "over 99%": a model's 0.4% is not "impossible"."""
    p = min(max(float(p), 0.0), 1.0)
    word = next(text for bound, text in WORDS if p >= bound)
    percent = round(100 * p)
    shown = ("under 1%" if percent == 0 and p > 0 else "over 99%" if percent == 100 and p < 1 else f"{percent}%")
    return f"{word} — {shown}"
