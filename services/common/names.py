"""Influencers by name: which one a word the analyst typed stands for, and which one survives a merge.

Pure (no grpc, no store): the CLI resolves names against identity's ListInfluencers, the report page against
its analysis; both pick the survivor of a merge with `survivor`, so the page and the CLI keep the same one.
"""

from __future__ import annotations

import difflib
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.common.boundary import is_influencer_id
from services.common.look_alikes import look_alike_form, looks_like_an_id
from services.common.name_text import BadName, clean_name


@dataclass(frozen=True)
class Known:
    """One influencer as the resolver sees it: its id, its display name ("" when unnamed) and how many
    videos it appears in."""

    influencer_id: str
    name: str = ""
    videos: int = 0


class NameLookupError(ValueError):
    """A word that stands for no influencer, or for several; the message says which and lists them."""


def survivor(candidates: Sequence[Known]) -> str:
    """The influencer a merge of `candidates` keeps: the one in the most videos; on a tie the named one;
    then the lowest id (ids are hashes, so any fixed order will do: it only has to be the same everywhere)."""
    if not candidates:
        raise ValueError("no influencer to merge")
    return min(candidates, key=lambda k: (-k.videos, not k.name, k.influencer_id)).influencer_id


def namesakes(influencer_id: str, name: str, known: Iterable[Known]) -> list[Known]:
    """The other influencers that `name` also names (case and blanks ignored), most videos first: a rename
    to a name in use is allowed (two people may share one), but the analyst is told, since that name alone
    then stands for none of them."""
    folded = fold(name)
    if not folded:
        return []
    return sorted((k for k in known if k.influencer_id != influencer_id and fold(k.name) == folded),
                  key=lambda k: (-k.videos, k.influencer_id))


def shared_name_note(name: str, others: Sequence[Known]) -> str:
    """One sentence telling that `others` are also named `name` ("" when none are)."""
    if not others:
        return ""
    # A namesake written otherwise ("tony blair" beside "Tony Blair") is shown as it is written: the note quoted
    # the new spelling alone, as if the other had it too.
    listed = "; ".join(f"{k.influencer_id} ({'' if k.name == name else f'{k.name!r}, '}{_videos(k.videos)})"
                       for k in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    return (f"Also named '{name}': {listed}{more}. The name alone now stands for none of them (give an id); "
            "if they are one person, merge them")


def with_id(name: str, influencer_id: str) -> str:
    """An influencer as a message names it beside a namesake: `Tony (inf_1a3ddd6b90)`; the id alone when unnamed."""
    return f"{name} ({influencer_id})" if name else influencer_id


def told_apart(ids: Iterable[str], names: Mapping[str, str]) -> dict[str, str]:
    """How one sentence shows each of `ids`: its name, or its id when unnamed; a name that another of them also has
    (as `fold` compares names) with the id after it (with_id). One rule for the page's messages and the CLI's:
    "Merged Tony into Tony" and "Kept Tony and Tony apart" read as if nothing had happened."""
    ids = list(dict.fromkeys(ids))
    named = [i for i in ids if names.get(i)]
    shared = Counter(fold(names[i]) for i in named) if len(named) > 1 else Counter()
    return {i: with_id(names[i], i) if names.get(i) and shared[fold(names[i])] > 1 else names.get(i) or i
            for i in ids}


def merge_order(ids: Sequence[str], known: Iterable[Known]) -> list[str]:
    """`ids` (duplicates dropped) with the survivor first, as identity's MergeInfluencers takes them (it keeps
    the first). An id not in `known` counts as unnamed and in no video."""
    by_id = {k.influencer_id: k for k in known}
    unique = list(dict.fromkeys(ids))
    keep = survivor([by_id.get(i, Known(i)) for i in unique])
    return [keep, *[i for i in unique if i != keep]]


def fold(name: str) -> str:
    """A name as it is compared: blanks collapsed, case ignored ("ann  lee" and "Ann Lee" are one name), and
    read as identity stores names (name_text.clean_name: NFC, no invisible characters), so "Zoë" typed
    decomposed (e + U+0308) or pasted with a zero-width space is the stored "Zoë". Two names the eye cannot
    tell apart are one name (look_alikes.look_alike_form: "Аnn" with a Cyrillic А, "Ann" and a variation
    selector, a full-width "Ａｎｎ", "ΗΛΙΑΣ" and "Ηλίας"; not "Анна" and "Ahha"): each is then a namesake of
    "Ann", and "Ann" alone stands for none of them, where it stood for the plain one while the other passed for
    it on the page."""
    try:
        cleaned = clean_name(name, max_chars=sys.maxsize)
    except BadName:
        return ""
    return look_alike_form(cleaned)


def resolve(word: str, known: Iterable[Known]) -> str:
    """The influencer id `word` stands for: an exact id wins; a word that only looks like an id (name_text.
    looks_like_an_id) stands for nothing; otherwise the one influencer whose name is `word` (case and blanks
    ignored). NameLookupError when none is, or when several are (listing them: name, id,
    videos), so that nothing is done to the wrong person."""
    known = list(known)
    word = word.strip()
    if any(k.influencer_id == word for k in known):
        return word
    if looks_like_an_id(word) and not is_influencer_id(word.lower()):
        # 'іnf_0123456789' (Cyrillic і), full-width or accented: read as an id, it is none, and as a name it could
        # only be one stored before names of that form were refused: neither is what the analyst means
        raise NameLookupError(f"{word[:80]!r} looks like an influencer id but is not one: it holds characters that "
                              "only look like the id's (another script's letters, full-width or accented ones); "
                              "type the id in plain letters and digits, or copy it from the page")
    matches = [k for k in known if k.name and fold(k.name) == fold(word)]
    if len(matches) == 1:
        return matches[0].influencer_id
    if matches:
        listed = "; ".join(f"{k.name} {k.influencer_id} ({_videos(k.videos)})"
                           for k in sorted(matches, key=lambda k: (-k.videos, k.influencer_id)))
        raise NameLookupError(f"{word!r} names {len(matches)} influencers: {listed}. Give the id instead")
    if is_influencer_id(word):
        return word  # an id identity does not list (an unnamed newcomer, a deleted one): identity answers for it
    if alike := looks_like(word, known):
        offered = ", ".join(f"'{k.name}' ({k.influencer_id})" for k in alike)  # as typed, not repr's escapes
        raise NameLookupError(f"no influencer is named or has the id {word[:80]!r}; did you mean {offered}?")
    raise NameLookupError(f"no influencer is named or has the id {word[:80]!r} (see the page, or `influencers review`)")


SUGGESTED = 3  # names offered for a name nobody has
NEAR = 0.8  # difflib's similarity from which a name is a near spelling of the word typed


def looks_like(word: str, known: Iterable[Known]) -> list[Known]:
    """The names (at most SUGGESTED, in most videos first) that `word` is a part of, word for word ("Tony" of
    "Tony Blair"), or a near spelling of ("tonny blair"); compared as `fold` does."""
    typed = fold(word)
    if not typed:
        return []
    words = set(typed.split())

    def alike(name: str) -> bool:
        folded = fold(name)
        return words <= set(folded.split()) or difflib.SequenceMatcher(None, typed, folded).ratio() >= NEAR

    found = sorted((k for k in known if k.name and alike(k.name)), key=lambda k: (-k.videos, k.influencer_id))
    return found[:SUGGESTED]


def _videos(count: int) -> str:
    return f"{count} video{'' if count == 1 else 's'}"
