"""The audit trail on the page, the answer each correction gives, and Undo.

- `/audit`: every correction, newest first, a page at a time (`?page_token=`, services/common/paging.py);
  `/audit.csv` (formula-safe, as every CSV) and `/api/audit.json` the whole trail.
- Feedback: a correction's redirect sets a short-lived cookie with its audit id (DONE_COOKIE; the URL stays
  the page's own); the next page shown says what the correction did, read from the audit row analytics wrote
  (so nothing planted can make the page say anything else), with an Undo button when identity can revert it
  and nobody has, and clears the cookie. A second one (DONE_AT_COOKIE) names the element the Undo lands at: the
  row or pair the correction was made on. Before analytics has the row, the page says it is still catching up
  (base.html's notice) and the message waits for the next page.
- `POST /undo` (audit_id, next): identity's UndoCorrection; back to `next` with the undo's own message.
- Who: every request names its actor for identity's audit (services/common/actor.py): "page:signed-in:"
  with a short hash of the session (never the session itself), "page:bearer" for a script with the token,
  "page:open:" and the session's hash on a tokenless loopback page.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request
from markupsafe import Markup

from services.analytics.audit import AuditRow, audit_frame, describe, founded_by
from services.analytics.report import merge_candidates
from services.analytics.store import AnalyticsStore
from services.analytics.web.attachment import as_download
from services.analytics.web.auth import safe_next
from services.analytics.web.bidi import as_html, described, isolated, plain
from services.analytics.web.csv_download import csv_download
from services.analytics.web.identity_access import corrections_client, identity_errors
from services.analytics.web.local_paths import MAX_PATH_CHARS
from services.common.actor import current_actor
from services.common.boundary import brief
from services.common.clients import Written
from services.common.names import namesakes, shared_name_note
from services.common.paging import decode_token, encode_token
from services.common.rpc import bearer_token

bp = Blueprint("audit", __name__)

PAGE_ROWS = 50  # rows of /audit per page
DONE_COOKIE = "influencers_done"
DONE_COOKIE_S = 120  # seconds the message of a correction waits to be shown
DONE_AT_COOKIE = "influencers_done_at"  # the element its Undo lands at (the row or pair it was made on)
DISMISSED_COOKIE = "influencers_dismissed"  # the audit ids of a "None of these are the same", dot-separated
MAX_DISMISSED = 100  # audit ids that cookie is read for (a dismissal answers a page of the queue at most)
AUDIT_ID = re.compile(r"[0-9a-f]{32}")
ANCHOR = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")  # an element id the undo may land on (item-inf_…-inf_…)


def _store() -> AnalyticsStore:
    return current_app.extensions["analytics_store"]


def actor_label(authorization: str, session_nonce: str | None, signed_in: bool) -> str:
    """The actor a page request acts as (see the module's docstring)."""
    if bearer_token(authorization) is not None:
        return "page:bearer"
    if not session_nonce:
        return "page"
    short = hashlib.sha256(session_nonce.encode()).hexdigest()[:8]
    return f"page:signed-in:{short}" if signed_in else f"page:open:{short}"


@bp.before_app_request
def _name_the_actor() -> None:
    session = g.get("session")
    g.actor_token = current_actor.set(actor_label(request.headers.get("Authorization", ""),
                                                  session.nonce if session else None,
                                                  bool(session and session.signed_in)))


@bp.teardown_app_request
def _forget_the_actor(_: BaseException | None) -> None:
    token = g.pop("actor_token", None)
    if token is not None:
        current_actor.reset(token)


def remember_done(response: Response, audit_id: str, at: str = "") -> None:
    """Has the next page say what correction `audit_id` did, and its Undo land at `at` (an element id of that page,
    ANCHOR: the row or pair the correction was made on; DONE_AT_COOKIE, cleared without one)."""
    if AUDIT_ID.fullmatch(audit_id or ""):
        response.set_cookie(DONE_COOKIE, audit_id, max_age=DONE_COOKIE_S, httponly=True, samesite="Strict",
                            secure=request.is_secure, path="/")
        response.set_cookie(DONE_AT_COOKIE, at if ANCHOR.fullmatch(at) else "",
                            max_age=DONE_COOKIE_S if ANCHOR.fullmatch(at) else 0, httponly=True,
                            samesite="Strict", secure=request.is_secure, path="/")


def done_redirect(target: str, written: Written, anchor: str = "") -> Response:
    """The 303 back to `target` (a local path) after a correction, at `anchor`: that page says what the
    correction did (remember_done), or that analytics is still catching up with it; its Undo lands at `anchor`
    too."""
    if not written.caught_up:
        target += ("&" if "?" in target else "?") + "catching_up=1"
    response = redirect(f"{target}#{anchor}" if anchor else target, code=303)
    remember_done(response, written.audit_id, anchor)
    return response


def remember_dismissed(response: Response, audit_ids: list[str]) -> None:
    """Has the review page say how many pairs the corrections `audit_ids` kept apart (dismissed_count)."""
    ids = [audit_id for audit_id in audit_ids if AUDIT_ID.fullmatch(audit_id or "")]
    if ids:
        response.set_cookie(DISMISSED_COOKIE, ".".join(ids[:MAX_DISMISSED]), max_age=DONE_COOKIE_S, httponly=True,
                            samesite="Strict", secure=request.is_secure, path="/")


def dismissed_count() -> int:
    """How many pairs the dismissal just made kept apart, counted from its audit rows: 0 without one, and
    before analytics has every row (a later page says it). Never from the address, where `?dismissed=9999`
    made the page say anything."""
    ids = set(request.cookies.get(DISMISSED_COOKIE, "").split(".")[:MAX_DISMISSED]) - {""}
    if not ids or not all(AUDIT_ID.fullmatch(audit_id) for audit_id in ids):
        return 0
    rows = [_store().audit_row(audit_id)[0] for audit_id in ids]
    if any(row is None for row in rows):
        return 0
    g.dismissed_shown = True
    return sum(row is not None and row.action == "review different" for row in rows)


@bp.after_app_request
def _shown(response: Response) -> Response:
    if g.pop("done_shown", False):
        response.delete_cookie(DONE_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
        response.delete_cookie(DONE_AT_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    if g.pop("dismissed_shown", False):
        response.delete_cookie(DISMISSED_COOKIE, path="/", httponly=True, samesite="Strict",
                               secure=request.is_secure)
    return response


def _feedback() -> dict[str, Any] | None:
    """The message of the correction just made (None without one, or before analytics has its row, or on an
    error page: the store may be what failed, and the message waits for the next page; nor on the sign-in page
    to a signed-out visitor: it names people)."""
    if g.get("error_page") or not g.get("reads_allowed"):
        return None
    found = done_message(request.cookies.get(DONE_COOKIE, ""), html=True)
    if found is not None:
        g.done_shown = True
        # Where its Undo lands without scripts: where the correction was made (was: the page's top, while the
        # queue's script landed on the pair)
        at = request.cookies.get(DONE_AT_COOKIE, "")
        found["at"] = at if ANCHOR.fullmatch(at) else ""
    return found


def done_message(audit_id: str, html: bool = False) -> dict[str, Any] | None:
    """What correction `audit_id` did, for the page: message, audit_id, undo (it can still be undone),
    undone; None for no such id, or before analytics has its row. The message is text without bidi controls
    (the JSON answer's), or with `html` markup whose every name is isolated (bidi.py)."""
    if not AUDIT_ID.fullmatch(audit_id or ""):
        return None
    row, undone = _store().audit_row(audit_id)
    if row is None:
        return None
    before = undid(row)
    told = (describe(isolated(row), isolated(before) if before else None, founded(row)) + _shared_name(row, undone)
            + _hidden_survivor(isolated(row), undone))
    return {"message": as_html(told) if html else plain(told),
            "audit_id": row.audit_id, "undo": row.undoable and not undone, "undone": undone}


def founded(row: AuditRow) -> set[str]:
    """The influencers a move founded ("a new influencer"), by the trail before it (audit.founded_by)."""
    if row.action != "move":
        return set()
    return founded_by(row, _store().audit_named_before(list(row.after_ids), row.position))


def _described(row: AuditRow, undone: AuditRow | None = None) -> Markup:
    """A row of the trail in words, for the Audit page: a move to a new influencer says so."""
    return described(row, undone, founded(row))


def undid(row: AuditRow) -> AuditRow | None:
    """The row an undo reverted (None for any other row, or when it is not here)."""
    return _store().audit_row(row.undoes)[0] if row.action == "undo" and row.undoes else None


def _shared_name(row: AuditRow, undone: bool) -> str:
    """After a rename to a name others have too (allowed: two people may share one), a sentence saying so."""
    if row.action != "rename" or undone or not row.after_ids or not row.after_name:
        return ""
    others = namesakes(row.after_ids[0], row.after_name, merge_candidates(current_app.extensions[
        "analytics_cache"].current()))
    return (". " + shared_name_note(row.after_name, others)) if others else ""


def _hidden_survivor(row: AuditRow, undone: bool) -> str:
    """After a merge that kept a hidden influencer (one of those merged was: a hide holds for the person), a
    sentence saying so: the one kept left the overview, which "Merged A into B" alone did not explain."""
    if row.action not in ("merge", "review same") or undone or not row.after_ids:
        return ""
    kept = row.after_ids[0]
    if kept not in current_app.extensions["analytics_cache"].current().hidden:
        return ""
    return (f". {row.names.get(kept) or kept} is hidden (not an influencer), as one of those merged was: left out "
            "of the statistics until shown again (Unhide, in the hidden list)")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"feedback": _feedback, "describe": _described, "undid": undid, "back_here": back_here}


@bp.get("/audit")
def audit() -> str:
    try:
        before = decode_token(request.args.get("page_token", ""))
    except ValueError as exc:
        abort(400, description=str(exc))
    rows, after = _store().audit_page(before, PAGE_ROWS)
    undone = _store().audit_undone([r.audit_id for r in rows if r.undoable])
    return render_template("audit.html", rows=rows, undone=undone, next_token=encode_token(after) if after else "",
                           first=before == 0)


@bp.get("/audit.csv")
def audit_csv() -> Response:
    return csv_download(audit_frame(_store().audit_rows()), "audit")


@bp.get("/api/audit.json")
def audit_json() -> Response:
    return as_download(jsonify(audit_frame(_store().audit_rows()).to_dict("records")), "audit.json")


@bp.post("/undo")
def undo() -> Response:
    """Reverts the correction `audit_id`, then back to `next` (a local path) with the undo's message."""
    audit_id = (request.form.get("audit_id") or "").strip()
    if not AUDIT_ID.fullmatch(audit_id):
        abort(400, description=f"audit_id {brief(audit_id, 40)!r} is not an audit id (32 hex digits)")
    with identity_errors():
        written = corrections_client().undo(audit_id)
    # `at`: an element of that page to land on (the queue's pair whose answer this undoes); else its top
    at = (request.form.get("at") or "").strip()
    return done_redirect(safe_next(request.form.get("next")), written, at if ANCHOR.fullmatch(at) else "")


def back_here() -> str:
    """This page's path and query without its `catching_up` and `unchanged` (where an Undo comes back to): always
    a local path, every value of a repeated parameter kept. Not url_for: a parameter named `endpoint`, `_method`
    or like the route's own arguments broke it (a 500), and `_external` made it absolute. The path alone when the
    query makes it longer than MAX_PATH_CHARS, which a form's `next` may not be anyway: every "Add a name" form of
    the overview carried the query whole, so a 200 kB query made a 25 kB overview of 8 unnamed faces 1.6 MB."""
    args = urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in ("catching_up", "unchanged")])
    path = quote(request.script_root + request.path)
    here = f"{path}?{args}" if args else path
    return here if len(here) <= MAX_PATH_CHARS else path
