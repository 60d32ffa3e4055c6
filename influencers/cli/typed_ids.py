"""Video, job and audit ids as typed on a command line: pasted with a blank or a tab around them, or copied in capitals
(a spreadsheet's, or a URL's bar). Identity takes them as given, so "00000000000000D1" was a video nobody is in
("no faces in the videos given") and " 00000000000000d1" no id at all. The influencer arguments already forgive
both (influencers/names.py); these do the same for the content ids and job ids ingest makes (16 hex digits) and audit
ids (32): any other id is left as typed but for the blanks around it, since another caller's ids may mind case. An id of
blanks alone is a usage error naming its argument, as an empty path is (parser.given): it was sent as "", and the
service's refusal quoted that '' rather than what was typed."""

from __future__ import annotations

import argparse
import re

_VIDEO_ID = re.compile(r"[0-9a-fA-F]{16}")
_AUDIT_ID = re.compile(r"[0-9a-fA-F]{32}")


def video_id_word(word: str) -> str:
    """`word` without the blanks around it; lower case when it is a content id (16 hex digits)."""
    stripped = _stripped(word)
    return stripped.lower() if _VIDEO_ID.fullmatch(stripped) else stripped


def job_id_word(word: str) -> str:
    """`word` without the blanks around it; lower case when it is a job id of the form ingest makes (16 hex
    digits, as a content id). Was sent as typed: `cancel 4D30008F743544C4` was "no job ... in this queue"."""
    return video_id_word(word)


def audit_id_word(word: str) -> str:
    """`word` without the blanks around it; lower case when it is an audit id (32 hex digits)."""
    stripped = _stripped(word)
    return stripped.lower() if _AUDIT_ID.fullmatch(stripped) else stripped


def _stripped(word: str) -> str:
    if not (stripped := word.strip()):
        raise argparse.ArgumentTypeError(f"is empty ({word!r}): give a value")
    return stripped
