"""What a correction that changed nothing says: word for word the same on the CLI and on the page, so an analyst
who used both reads one sentence (the CLI said "hidden already" where the page said "already hidden"). Pure: the
caller shows who it was (`Ann (inf_…)`, or the id alone) as fits its screen, a terminal or HTML."""

from __future__ import annotations


def hide_unchanged(who: str, hide: bool) -> str:
    """After a hide of someone hidden already (`hide`), or a "show again" of someone not hidden."""
    state = "is already hidden (not an influencer)" if hide else "is not hidden"
    return f"{who} {state}: nothing changed"


def rename_unchanged(who: str, name: str) -> str:
    """After a rename to the name `who` has already (`name`; "" for someone unnamed given no name)."""
    state = f"is already named '{name}'" if name else "has no name already"
    return f"{who} {state}: nothing changed"


_ANSWERED = {"same": "they are one person already", "different": "they are kept apart already",
             "skip": "the pair was skipped already"}


def answer_unchanged(answer: str, a: str, b: str) -> str:
    """After a review answer (`answer`: same, different or skip) about `a` and `b` that identity took without a
    change: another session gave it a moment before (was: "Answer saved", as if this one had done it)."""
    return f"Your answer “{answer}” for {a} and {b} changed nothing: {_ANSWERED.get(answer, 'it was given already')}"
