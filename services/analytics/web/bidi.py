"""Text the analyst did not write, shown on the page without steering its direction.

Names are cleaned when identity writes them (services/common/name_text.py), but a name stored before that, a URL
or a file name may still carry bidi controls: an override or an unclosed embedding in "Named inf_… 'Ana\u202e'"
reversed the rest of the notice, and an RTL name pulled the ids and words beside it to its side. So on the page:
- every value a template prints loses its bidi controls (`without_bidi`, the app's Jinja finalize), and
- a user-given name inside a sentence (a correction's notice, an audit line) is isolated in `<bdi>`: `isolated`
  wraps each name of an audit row in two private-use marks, and `as_html` escapes the sentence and turns each
  pair of marks into `<bdi>…</bdi>` (`plain` drops them, for JSON and text).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from markupsafe import Markup, escape

from services.analytics.audit import AuditRow, describe

# Embeddings, overrides, isolates and the implicit marks (ALM, LRM, RLM): the characters that set direction.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
OPEN, CLOSE = "\ue000", "\ue001"  # private use: no name keeps them (isolated drops any a name has)
_DROPPED = str.maketrans("", "", BIDI_CONTROLS)
_MARKS = str.maketrans("", "", OPEN + CLOSE)
_PAIR = re.compile(f"{OPEN}([^{OPEN}{CLOSE}]*){CLOSE}")


def without_bidi(text: str) -> str:
    """`text` without the characters that set direction (BIDI_CONTROLS); the rest as it is (joiners stay)."""
    return text.translate(_DROPPED)


def finalize(value: Any) -> Any:
    """The app's Jinja finalize: a printed string loses its bidi controls; markup the templates or as_html made
    is left as it is (its text was printed, and so cleaned, where it was made)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return without_bidi(value)
    return value


def _name(name: str) -> str:
    return f"{OPEN}{without_bidi(name).translate(_MARKS)}{CLOSE}" if name else ""


def isolated(row: AuditRow) -> AuditRow:
    """`row` with every name it holds (its ids' names, the name before and after) cleaned of bidi controls and
    marked for isolation: the sentences made of it (audit.describe and the like) go through as_html or plain."""
    return replace(row, names={k: _name(v) for k, v in row.names.items()}, before_name=_name(row.before_name),
                   after_name=_name(row.after_name))


def as_html(text: str) -> Markup:
    """`text` (a sentence made of isolated rows) escaped, without bidi controls, each marked name in `<bdi>`."""
    safe = str(escape(without_bidi(text)))
    return Markup(_PAIR.sub(r"<bdi>\1</bdi>", safe).translate(_MARKS))


def plain(text: str) -> str:
    """`text` (a sentence made of isolated rows) as text: without bidi controls and without the marks."""
    return without_bidi(text).translate(_MARKS)


def described(row: AuditRow, undone: AuditRow | None = None, founded: Collection[str] = ()) -> Markup:
    """audit.describe's sentence for the page: escaped, each name in `<bdi>` (an audit line's names steered the
    direction of the ids and words after them)."""
    return as_html(describe(isolated(row), isolated(undone) if undone else None, founded))
