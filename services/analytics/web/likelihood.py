"""A probability that two influencers are one person, as the review queue says it: in words and as a whole
percentage ("likely the same — 82%")."""

from __future__ import annotations

# (lower bound, words): the first whose bound the probability reaches.
WORDS = ((0.8, "likely the same"), (0.5, "perhaps the same"), (0.2, "probably different"), (0.0, "unlikely"))


def in_words(p: float) -> str:
    """`p` in [0, 1] in words and as a whole percentage: 0.82 -> "likely the same — 82%"."""
    p = min(max(float(p), 0.0), 1.0)
    word = next(text for bound, text in WORDS if p >= bound)
    return f"{word} — {round(100 * p)}%"
