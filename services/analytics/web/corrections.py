"""Correction forms of the report page: rename, merge, move an appearance, hide / unhide, delete (after a
confirm step), enrol a name from photos, and the "Same person?" review queue (also as /api/review.json).

Each write calls the identity service, which publishes the change in its feed; analytics applies it by
itself, and the write waits (bounded, Settings.feed_wait_s) until the store this page reads has (see
identity_calls.py). Then the browser is sent on (303) to the page that shows the change, with
`catching_up=1` when the wait ran out (the page then says analytics is still catching up). Sign-in and
CSRF are checked before any route runs (session.py). Identity's refusals keep their meaning: a bad
argument is 400, an unknown influencer or video 404, identity unreachable 503; the message is identity's, cut short.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from services.analytics.analysis import Analysis
from services.analytics.audit import not_saved_sentence
from services.analytics.report import is_known, merge_candidates
from services.analytics.web.audit_views import (
    DONE_COOKIE,
    DONE_COOKIE_S,
    dismissed_count,
    done_message,
    done_redirect,
    remember_dismissed,
    remember_done,
)
from services.analytics.web.bidi import as_html, isolated, plain
from services.analytics.web.body_limits import MAX_PHOTO_BYTES, MAX_PHOTOS, UPLOAD_PATH
from services.analytics.web.canonical import canonical_ids
from services.analytics.web.identity_access import corrections_client, identity_errors
from services.analytics.web.identity_calls import ANSWERS
from services.analytics.web.likelihood import in_words
from services.analytics.web.local_paths import local_path
from services.analytics.web.query import MAX_DIGITS
from services.common.boundary import brief, is_influencer_id, is_video_id
from services.common.clients import Written
from services.common.name_text import BadName, clean_name, too_long_as_given
from services.common.names import merge_order, with_id
from services.common.protoconv import review_reason_word, seconds
from services.common.unchanged import answer_unchanged, hide_unchanged, rename_unchanged

bp = Blueprint("corrections", __name__)

MAX_NAME_CHARS = 200
UNCHANGED = "unchanged"  # the query argument of the page after a rename that changed nothing
# ... after a hide of someone hidden already, and a "show again" of someone not hidden
ALREADY_HIDDEN, NOT_HIDDEN = "already_hidden", "not_hidden"
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _analysis() -> Analysis:
    return current_app.extensions["analytics_cache"].current()


@bp.before_request
def _needs_identity() -> None:
    """Without identity, nothing here can answer: 503 before any input is looked at."""
    corrections_client()


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"corrections_enabled": current_app.extensions.get("corrections") is not None,
            "unchanged_note": unchanged_note}


def _influencer_arg(value: object, what: str = "influencer_id") -> str:
    """`value` (a form field, or a JSON value of any type) when it is an influencer id, in any case (a script's
    `INF_…` is that id, as on the CLI); 400 naming it otherwise."""
    text = value.strip() if isinstance(value, str) else "" if value is None else str(value)
    if not isinstance(value, str) or not is_influencer_id(text.lower()):
        abort(400, description=f"{what} {brief(text, 40)!r} is not of the form inf_ + 10 hex digits")
    return text.lower()


def _valid_or_404(ok: bool) -> None:
    if not ok:
        abort(404)


def _known_or_404(influencer_id: str) -> None:
    """The page's 404 for an id that analytics does not know (report.is_known), as its influencer page answers."""
    _valid_or_404(is_known(current_app.extensions["analytics_store"], _analysis(), influencer_id))


def _done(endpoint: str, written: Written | None = None, undo_at: str = "", **values: Any) -> Response:
    """The 303 to the page that shows the change, which says what it did (audit_views.remember_done) or
    that analytics is still catching up; its Undo lands at `undo_at` (an element id of that page), else at the
    redirect's own `_anchor`."""
    if written is not None and not written.caught_up:
        values["catching_up"] = 1
    response = redirect(url_for(endpoint, **values), code=303)
    if written is not None:
        remember_done(response, written.audit_id, undo_at or values.get("_anchor", ""))
    return response


# ---- one influencer -----------------------------------------------------------------------------------

@bp.post("/influencer/<influencer_id>/rename")
def rename(influencer_id: str) -> Response:
    _valid_or_404(is_influencer_id(influencer_id))
    name = _typed_name()
    back = local_path(request.form.get("next"))
    at = _place_in_list(request.form.get("from"))  # the influencer page's place in their videos: kept
    if _length(name) > MAX_NAME_CHARS:
        return _rename_refused(influencer_id, back, f"a name has at most {MAX_NAME_CHARS} characters")
    # Identity is asked even to clear the name of someone analytics has unnamed: it answers a rename that changes
    # nothing with its feed's head, which the page then waits for (read your writes). The page answered it itself
    # with position 0: a name given a moment before on another page, not in analytics yet, stayed, and the page
    # said "has no name already" and showed no name until analytics caught up.
    try:
        with identity_errors():
            written = corrections_client().rename(influencer_id, name)
    except HTTPException as exc:
        if exc.code != 400:
            raise
        return _rename_refused(influencer_id, back, exc.description or "identity refused the name")
    back = _without_note(back)  # an earlier rename's note, on the address the overview's form was on
    if written.unchanged:  # the name it has already: the page says so (was: no word, as if renamed)
        at = {**at, UNCHANGED: influencer_id}
        back = back and back + ("&" if "?" in back else "?") + f"{UNCHANGED}={influencer_id}"
    if back:  # the inline "Add a name" of the overview or the review queue: back there, at that face
        return done_redirect(back, written, influencer_id)
    return _done("report.influencer", written, influencer_id=influencer_id, **at)


def _without_note(path: str) -> str:
    """`path` without the arguments of an earlier correction's note (`unchanged`, `already_hidden`, `not_hidden`),
    the others kept as they are."""
    base, mark, query = path.partition("?")
    kept = "&".join(part for part in query.split("&")
                    if part.split("=", 1)[0] not in (UNCHANGED, ALREADY_HIDDEN, NOT_HIDDEN))
    return f"{base}?{kept}" if kept else base if mark else path


def unchanged_note() -> str:
    """After a correction that changed nothing, the sentence saying so: a rename to the name the influencer has
    already (`?unchanged=ID`, unchanged_name_note), a hide of someone hidden already (`?already_hidden=ID`), a
    "show again" of someone not hidden (`?not_hidden=ID`). "" otherwise, and on the sign-in page answering a
    signed-out request for any address (it would show anyone the name of any id)."""
    if g.get("error_page") or not g.get("reads_allowed"):
        return ""
    for argument, hide in ((ALREADY_HIDDEN, True), (NOT_HIDDEN, False)):
        influencer_id = request.args.get(argument, "")
        if is_influencer_id(influencer_id):
            name = _analysis().names.get(influencer_id, "")
            return hide_unchanged(with_id(name, influencer_id), hide)
    return unchanged_name_note()


def unchanged_name_note() -> str:
    """After a rename to the name the influencer has already (`?unchanged=ID`), the sentence saying so, with
    the name as analytics has it (the page waited for identity's feed head; no name while analytics still catches
    up); "" otherwise."""
    influencer_id = request.args.get(UNCHANGED, "")
    if not is_influencer_id(influencer_id):
        return ""
    if request.args.get("catching_up"):  # analytics has not the name identity compared with yet: its own is older
        return f"{influencer_id} has the name given already: nothing changed"
    name = _analysis().names.get(influencer_id, "")
    return rename_unchanged(influencer_id, name)


@bp.get("/influencer/<influencer_id>/rename")
def rename_reloaded(influencer_id: str) -> Response:
    """The address of a refused name's page, reloaded or bookmarked (a GET): the influencer's page, not a 405."""
    _valid_or_404(is_influencer_id(influencer_id))
    _known_or_404(influencer_id)
    return redirect(url_for("report.influencer", influencer_id=influencer_id), code=303)


def _typed_name() -> str:
    """The form's `name`, blanks collapsed and composed (NFC) as identity stores names: its length is then counted
    as identity counts it (a name pasted decomposed has up to three code points a letter). A name too long even with
    invisible characters (name_text.too_long_as_given) is given as sent, unread: _length refuses it at once. So is a
    name of blanks alone: identity refuses it (name_text.clean_name), as the CLI does; "" alone clears a name (was:
    collapsed to "", it cleared the name the CLI refused)."""
    typed = request.form.get("name") or ""
    collapsed = " ".join(typed.split())
    if too_long_as_given(typed, MAX_NAME_CHARS) or not collapsed:
        return typed
    return unicodedata.normalize("NFC", collapsed)


def _length(name: str) -> int:
    """`name`'s characters as identity counts them: once its controls, bidi marks and zero-width characters are
    removed (name_text.clean_name). Was its code points with them: a name pasted with a right-to-left mark after
    each word was refused at 200 though identity takes it. 0 for a name with nothing visible (identity refuses
    it, saying so). A name over name_text's limit as given counts as its code points, uncleaned: the page cleaned a
    text field of 500 kB to count it (0.3 s of a server thread, holding the GIL), which identity refuses unread."""
    if too_long_as_given(name, MAX_NAME_CHARS):
        return len(name)
    try:
        return len(clean_name(name, max_chars=sys.maxsize))
    except BadName:
        return 0


def _rename_refused(influencer_id: str, back: str, message: str) -> tuple[str, int]:
    """A 400 that says why the name was refused with what was typed in a form to send again (an error page
    without it lost the name: the inline "Add a name" forms are on pages the refusal replaced)."""
    typed = (request.form.get("name") or "")[:4 * MAX_NAME_CHARS]
    return render_template("rename_refused.html", influencer_id=influencer_id, back=back, error=message,
                           typed=typed, at=_place_in_list(request.form.get("from"))), 400


def _place_in_list(value: str | None) -> dict[str, int]:
    """The influencer page's `from` (the place of its first video shown) a rename form sent back, as the
    redirect's query values: {} when absent, 0 or not a whole number as that page reads it (query.py)."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS and int(value) > 0:
        return {"from": int(value)}
    return {}


@bp.post("/influencer/<influencer_id>/hide")
def hide(influencer_id: str) -> Response:
    """hidden=1: "not an influencer" (kept, out of the statistics); hidden=0: back."""
    _valid_or_404(is_influencer_id(influencer_id))
    hidden = request.form.get("hidden", "1") != "0"
    with identity_errors():
        written = corrections_client().hide(influencer_id, hidden)
    # Hidden (or shown) already: the page says so, as after a rename to the name it has (was: no word at all)
    said = {ALREADY_HIDDEN if hidden else NOT_HIDDEN: influencer_id} if written.unchanged else {}
    # Hidden, they leave the overview's table for its hidden list; the Undo brings them back to their row there
    if hidden:
        return _done("report.overview", written, undo_at=influencer_id, **said)
    return _done("report.influencer", written, influencer_id=influencer_id, **said)


@bp.route("/influencer/<influencer_id>/delete", methods=["GET", "POST"])
def delete(influencer_id: str) -> Response | str:
    """GET (and HEAD): the confirm step. POST with confirm=yes: erases the person from both stores."""
    if request.method != "POST":  # HEAD passes the checks of a read (session.py): it must write nothing
        canonical_ids(influencer_id=is_influencer_id)
        _known_or_404(influencer_id)  # its confirm form would only end in identity's refusal
        return render_template("delete.html", influencer_id=influencer_id,
                               name=_analysis().names.get(influencer_id, ""))
    _valid_or_404(is_influencer_id(influencer_id))
    if request.form.get("confirm") != "yes":
        abort(400, description="tick the box to confirm the deletion")
    with identity_errors():
        written = corrections_client().delete(influencer_id)
    return _done("report.overview", written)


@bp.post("/merge")
def merge() -> Response:
    """Merges the influencers ticked (two or more) into `into` when given, else into the one
    services.common.names.survivor keeps (the most videos; on a tie the named one): the CLI's rule too."""
    ids = list(dict.fromkeys(_influencer_arg(i, "influencer") for i in request.form.getlist("ids")))
    into = request.form.get("into") or ""
    if into:
        into = _influencer_arg(into, "into")
        ids = [into, *[i for i in ids if i != into]]
    elif ids:
        ids = merge_order(ids, merge_candidates(_analysis()))
    if len(ids) < 2:  # an influencer page's list picks the others (`into` is the page's own), the overview ticks
        abort(400, description="choose at least one other influencer in the list to merge into this one" if into
              else "tick at least two influencers to merge")
    with identity_errors():
        written = corrections_client().merge(ids)
    # Another analyst may have merged them the other way a moment before (then this merge changed nothing):
    # the page of the one that is left.
    store = current_app.extensions["analytics_store"]
    return _done("report.influencer", written,
                 influencer_id=next((i for i in ids if store.appearances_of(i)), ids[0]))


@bp.post("/video/<video_id>/move")
def move(video_id: str) -> Response:
    """One video's appearance of `influencer_id` goes to `target` ("new": a new influencer). No target is
    refused: the form asks for a choice, so that one click never founds a new person."""
    _valid_or_404(is_video_id(video_id))
    source = _influencer_arg(request.form.get("influencer_id"))
    target = (request.form.get("target") or "").strip()
    if not target:
        abort(400, description="choose where the appearance goes: an influencer, or a new one (target 'new')")
    target = "" if target == "new" else _influencer_arg(target, "target")
    if target == source:
        abort(400, description="the appearance is already that influencer's")
    with identity_errors():
        written = corrections_client().move(video_id, source, target)
    # Back at the row of the one it went to (a new one's id is not known here: the page's top), and the Undo at the
    # row of the one it came from, which the undo brings back (was: both at the top)
    return _done("report.video", written, undo_at=source, video_id=video_id,
                 **({"_anchor": target} if target else {}))


# ---- enrol ---------------------------------------------------------------------------------------------

@bp.route(UPLOAD_PATH, methods=["GET", "POST"])
def enrol() -> Response | str | tuple[str, int]:
    """A name and up to MAX_PHOTOS reference photos (JPEG or PNG, MAX_PHOTO_BYTES each)."""
    if request.method != "POST":  # HEAD too, with whatever body it carries: a read
        return render_template("enrol.html", max_photos=MAX_PHOTOS, max_mb=MAX_PHOTO_BYTES // (1024 * 1024),
                               enrolled=_just_enrolled())
    name = _typed_name()
    if not name or _length(name) > MAX_NAME_CHARS:
        return _enrol_refused(f"give a name of 1 to {MAX_NAME_CHARS} characters", name[:MAX_NAME_CHARS])
    files = [f for f in request.files.getlist("photos") if f.filename]
    if not files:
        return _enrol_refused("choose at least one photo", name)
    labels = [brief(f.filename or "", 60) for f in files]
    if len(files) > MAX_PHOTOS:
        return _enrol_refused(f"at most {MAX_PHOTOS} photos at a time", name, sent=labels)
    photos = []
    for f, label in zip(files, labels, strict=True):
        data = f.read(MAX_PHOTO_BYTES + 1)
        if len(data) > MAX_PHOTO_BYTES:
            return _enrol_refused(f"{label!r} is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB", name, 413,
                                  sent=labels)
        if not data.startswith(_IMAGE_MAGIC):
            kind = _photo_kind(data)
            return _enrol_refused(f"{label!r} is not a JPEG or PNG image" + (f" ({kind})" if kind else ""), name,
                                  sent=labels)
        photos.append(data)
    try:
        with identity_errors():
            reply, written = corrections_client().enrol(name, photos)
    except HTTPException as exc:
        if exc.code not in (400, 404, 409):  # 409: the photos match someone named otherwise (say it on the form)
            raise
        return _enrol_refused(_photo_named(exc.description or "identity refused the photos", labels), name, exc.code,
                              sent=labels)
    found = reply.influencer.influencer_id
    if reply.faces_enrolled == 0 or not found:
        return _enrol_refused("no face was found in the photos", name, sent=labels)
    skipped = [labels[k] for k in reply.photos_without_face if 0 <= k < len(labels)]
    # Photos with several faces: identity enrolled the largest of each (was: in silence, maybe the wrong person)
    crowded = [(label, n) for label, n in zip(labels, reply.faces_per_photo, strict=False) if n > 1]
    if skipped or crowded:  # said on the page, not dropped in silence: the analyst may want to send better photos
        return render_template("enrol.html", max_photos=MAX_PHOTOS, max_mb=MAX_PHOTO_BYTES // (1024 * 1024),
                               enrolled="", skipped=skipped, crowded=crowded, used=reply.faces_enrolled, name=name,
                               influencer_id=found, catching_up=not written.caught_up)
    if not current_app.extensions["analytics_store"].appearances_of(found):
        return _done("corrections.enrol", written)  # nobody in the videos yet: later batches name them
    return _done("report.influencer", written, influencer_id=found)


# What a photo that is no JPEG or PNG is, by its first bytes (ISO BMFF brands at 8:12): said on the enrol form.
_PHOTO_KINDS = ((b"GIF8", "a GIF"), (b"RIFF", "a WebP image"), (b"II*\0", "a TIFF image"), (b"MM\0*", "a TIFF image"),
                (b"BM", "a BMP image"), (b"%PDF", "a PDF"))
_HEIF_BRANDS = {b"heic": "an HEIC photo, as iPhones save them: export it as JPEG", b"heix": "an HEIC photo",
                b"mif1": "an HEIF image", b"avif": "an AVIF image"}


def _photo_kind(data: bytes) -> str:
    """What the bytes of an upload that is no JPEG or PNG are, in words; "" when unknown."""
    if not data:
        return "the file is empty"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return _HEIF_BRANDS[data[8:12]]
    return next((kind for magic, kind in _PHOTO_KINDS if data.startswith(magic)
                 and (magic != b"RIFF" or data[8:12] == b"WEBP")), "")


_PHOTO_PLACE = re.compile(r"photo (\d{1,2}): ")


def _photo_named(message: str, labels: list[str]) -> str:
    """Identity's refusal of "photo 1: ..." (counted from 0 in the order sent) with the photo's file name instead."""
    found = _PHOTO_PLACE.match(message)
    if found is None or int(found.group(1)) >= len(labels):
        return message
    return f"{labels[int(found.group(1))]!r}: {message[found.end():]}"


def _just_enrolled() -> str:
    """The name of the enrolment just made, read from its audit row (the correction's cookie, as every message
    of a correction): never from the address, where `?enrolled=<any text>` made the page say anything."""
    row, _ = current_app.extensions["analytics_store"].audit_row(request.cookies.get(DONE_COOKIE, ""))
    return row.after_name if row is not None and row.action == "enrol" else ""


def _enrol_refused(message: str, name: str, status: int = 400, sent: list[str] | None = None) -> tuple[str, int]:
    """The enrol form again, with what was typed and why it was refused. Photos cannot be kept in the form (a
    browser never fills a file input from a page), nor are they kept here (25 MB a form, for a retry that may never
    come): the notice names the photos `sent` and says to pick them again (it said nothing of them, and the form
    came back with its name alone, as if the photos were still chosen)."""
    return render_template("enrol.html", max_photos=MAX_PHOTOS, max_mb=MAX_PHOTO_BYTES // (1024 * 1024),
                           enrolled="", name=name, error=message, sent=sent or []), status


# ---- review queue --------------------------------------------------------------------------------------

MAX_DISMISS = 100  # pairs one "None of these are the same" may answer (a page of the queue at most)


def _review_queue(unlikely: bool = False) -> dict[str, Any]:
    """The queue as the page and the JSON show it: items (most likely first, the probability in words
    and numbers), how many are left at or above the floor and under it, and the floor."""
    names = _analysis().names
    with identity_errors():
        found = corrections_client().review_queue(0, unlikely)
    items = [{"influencer_a": i.influencer_a, "influencer_b": i.influencer_b, "distance": i.distance,
              "probability": round(i.probability, 4), "likely": i.probability >= found.floor,
              "in_words": in_words(i.probability), "reason": review_reason_word(i.reason),
              "name_a": names.get(i.influencer_a, ""), "name_b": names.get(i.influencer_b, ""),
              "video_id_a": i.video_id_a, "video_id_b": i.video_id_b,
              "timestamp_a_s": seconds(i.timestamp_a), "timestamp_b_s": seconds(i.timestamp_b)}
             for i in found.items]
    return {"items": items, "likely": found.likely, "unlikely": found.unlikely, "floor": found.floor}


def _wants_unlikely() -> bool:
    return request.args.get("unlikely", "") not in ("", "0")


@bp.get("/review")
def review() -> Response:
    """The queue; ?unlikely=1 also shows the items under the floor, after the others. After a dismissal, says
    how many pairs it kept apart (audit_views.dismissed_count)."""
    response = make_response(render_template(
        "review.html", unlikely_shown=_wants_unlikely(), dismissed=dismissed_count(),
        not_saved=not_saved_note() or answered_note(), **_review_queue(_wants_unlikely())))
    for said_once in (ANSWERED_COOKIE, NOT_SAVED_MORE_COOKIE):
        if said_once in request.cookies:
            response.delete_cookie(said_once, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return response


@bp.get("/api/review.json")
def review_json() -> Response:
    """The "Same person?" queue, most likely first (?unlikely=1: those under the floor too): both influencer
    ids, their distance, the probability that they are one person (0..1) and in words, the reason. The
    counts left travel as headers: X-Review-Likely (at or above the floor), X-Review-Unlikely (under it)."""
    found = _review_queue(_wants_unlikely())
    reply = jsonify(found["items"])
    reply.headers["X-Review-Likely"] = str(found["likely"])
    reply.headers["X-Review-Unlikely"] = str(found["unlikely"])
    return reply


def _pair_of(values: Any) -> tuple[str, str]:
    """The pair `values` (a form, or a JSON object) names, checked as _answer checks it."""
    return (_influencer_arg(values.get("influencer_a"), "influencer_a"),
            _influencer_arg(values.get("influencer_b"), "influencer_b"))


def _answer(values: Any) -> Written:
    """Answers one review item from `values` (a form, or a JSON object)."""
    a = _influencer_arg(values.get("influencer_a"), "influencer_a")
    b = _influencer_arg(values.get("influencer_b"), "influencer_b")
    reply = str(values.get("answer") or "")
    if reply not in ANSWERS:
        abort(400, description=f"answer {brief(reply, 20)!r} is not one of {', '.join(ANSWERS)}")
    with identity_errors():
        return corrections_client().answer(a, b, reply)


def _back_to_queue(written: Written | None, answered: tuple[str, str, str] | None = None) -> Response:
    """To the queue, where the page was: the item after the one answered (`next`, an item's anchor) and the
    less likely ones still shown when they were. `answered` (answer, a, b): when identity took it without a change
    (no audit id: another session gave it a moment before), the queue says so (ANSWERED_COOKIE, answered_note)."""
    values: dict[str, Any] = {}
    anchor = (request.form.get("next") or "").strip()
    if anchor.startswith("item-") and len(anchor) <= 64 and anchor.replace("-", "").replace("_", "").isalnum():
        values["_anchor"] = anchor
    if request.form.get("unlikely") == "1":
        values["unlikely"] = 1
    # Its Undo brings the pair back: it lands there, as the queue's script has it land (the redirect's own anchor
    # is the pair after it)
    undo_at = f"item-{answered[1]}-{answered[2]}" if answered is not None else ""
    response = _done("corrections.review", written, undo_at=undo_at, **values)
    if written is not None and answered is not None:
        remember_answered(response, written, answered)
    return response


def remember_answered(response: Response, written: Written, answered: tuple[str, str, str]) -> None:
    """Has the queue say that the answer `answered` (answer, a, b) changed nothing, when identity took it without
    a change (`written` has no audit id)."""
    if not written.audit_id:
        response.set_cookie(ANSWERED_COOKIE, " ".join(answered), max_age=DONE_COOKIE_S, httponly=True,
                            samesite="Strict", secure=request.is_secure, path="/")


# "ANSWER A B" of an answer identity took without a change, said once by the queue it lands on: a cookie, as a
# correction's message is (audit_views), never the address, where a link could make the queue say it
ANSWERED_COOKIE = "influencers_answered"


def answered_already(reply: str, a: str, b: str) -> str:
    """What an answer identity took without a change says (isolated names, bidi.py): the correction that settled
    the pair when one took `a` or `b` away (a merge), else that the answer was given already."""
    store = current_app.extensions["analytics_store"]
    took = [store.audit_leaving(i) for i in (a, b)]
    return (not_saved_sentence(reply, a, b, *(isolated(row) if row else None for row in took))
            or answer_unchanged(reply, a, b))


def answered_note() -> Markup:
    """On the queue after an answer of this session that changed nothing (ANSWERED_COOKIE), its sentence."""
    reply, _, pair = request.cookies.get(ANSWERED_COOKIE, "").partition(" ")
    a, _, b = pair.partition(" ")
    if reply not in ANSWERS or not is_influencer_id(a) or not is_influencer_id(b) or a == b:
        return Markup("")
    return as_html(answered_already(reply, a, b) + ".")


# The queue's arguments after an answer refused because the pair changed since the page was shown (not_saved_note)
NOT_SAVED, PAIR_A, PAIR_B = "not_saved", "pair_a", "pair_b"
NAMED_NOT_SAVED = 3  # refused pairs the queue names one by one; more are counted
NOT_SAVED_MORE_COOKIE = "influencers_not_saved_more"  # how many more a dismissal passed over (never the address)
TAKEN_WAIT_S = 5.0  # how long the page waits for analytics to record the merge identity named (it follows the feed)


@bp.post("/review/answer")
def answer() -> Response:
    """One answer from the queue's form (no script). An answer for a pair another session settled (merged) a
    moment before, or one of whom joined someone else, is the queue again saying so (not_saved_note), as the
    scripted path keeps the queue and says it: it was identity's 404 page."""
    try:
        written = _answer(request.form)
    except HTTPException as exc:
        queue = _settled_queue(request.form, exc)
        if not queue:
            raise
        return redirect(queue + ("&unlikely=1" if request.form.get("unlikely") == "1" else ""), code=303)
    return _back_to_queue(written, (str(request.form.get("answer")), *_pair_of(request.form)))


def _settled_queue(values: Any, refused: HTTPException) -> str:
    """For an answer (`values`, its pair and answer checked already) that identity `refused` because a correction
    since the page was shown took one of the pair away: the queue's address saying so (not_saved_note); ""
    for any other refusal."""
    if refused.code != 404:
        return ""
    a = _influencer_arg(values.get("influencer_a"), "influencer_a")
    b = _influencer_arg(values.get("influencer_b"), "influencer_b")
    if not _taken_away(a, b, refused.description or ""):
        return ""
    return url_for("corrections.review", **{NOT_SAVED: str(values.get("answer")), PAIR_A: a, PAIR_B: b})


def _taken_away(a: str, b: str, refusal: str) -> bool:
    """Whether a correction took `a` or `b` away (merged into another), by analytics' audit trail; when identity's
    `refusal` says so first, the trail is waited for (TAKEN_WAIT_S at most): analytics follows identity's feed."""
    store = current_app.extensions["analytics_store"]
    deadline = time.monotonic() + (TAKEN_WAIT_S if "it was merged into" in refusal else 0.0)
    while True:
        if any(store.audit_leaving(i) is not None for i in (a, b)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def not_saved_note() -> Markup:
    """On the queue after answers refused for pairs changed under them (`?not_saved=ANSWER&pair_a=A&pair_b=B`, a
    pair_a and pair_b for each pair, in order, NAMED_NOT_SAVED at most), the sentence saying so for each and which
    correction did it, from the audit trail, then how many more (NOT_SAVED_MORE_COOKIE: the dismissal counted them;
    after "None of these", only the first was named); a pair with no such correction behind it shows nothing (no
    text of the address is shown but ids and an answer's word, and no count). Its names are isolated (bidi.py).
    Each pair costs two scans of the audit trail: an address naming 100 pairs took 5 s of 5,000 rows."""
    reply = request.args.get(NOT_SAVED, "")
    pairs = list(zip(request.args.getlist(PAIR_A), request.args.getlist(PAIR_B), strict=False))[:NAMED_NOT_SAVED]
    if reply not in ANSWERS:
        return Markup("")
    store = current_app.extensions["analytics_store"]
    said = []
    for a, b in pairs:
        if is_influencer_id(a) and is_influencer_id(b) and a != b:
            took = [store.audit_leaving(i) for i in (a, b)]
            sentence = not_saved_sentence(reply, a, b, *(isolated(row) if row else None for row in took))
            if sentence:
                said.append(sentence)
    counted = request.cookies.get(NOT_SAVED_MORE_COOKIE, "")
    more = int(counted) if said and counted.isascii() and counted.isdigit() and len(counted) <= 3 else 0
    tail = (f" Your answer “{reply}” for {more} more pair{'' if more == 1 else 's'} was not saved either: a "
            "correction since the page was shown settled each (on the Audit page).") if more > 0 else ""
    return as_html(" ".join(said) + tail)


@bp.post("/review/dismiss")
def dismiss() -> Response:
    """"None of these are the same": every pair listed (`pair` = "influencer_a influencer_b", one per item on
    the page) is answered "different" in one request. Each answer is a correction of its own: the queue then
    says how many pairs were kept apart and points to the audit page, where each can be undone (one pair
    says what it did, with Undo, as an answer does)."""
    pairs = request.form.getlist("pair")
    if not pairs:
        abort(400, description="no pairs to dismiss")
    if len(pairs) > MAX_DISMISS:
        abort(400, description=f"at most {MAX_DISMISS} pairs at a time")
    parsed = []
    for pair in pairs:
        parts = pair.split()
        if len(parts) != 2:
            abort(400, description=f"pair {brief(pair, 50)!r} is not two influencer ids")
        a, b = _influencer_arg(parts[0], "pair"), _influencer_arg(parts[1], "pair")
        if a == b:  # identity refuses it, after the pairs before it were written: none is
            abort(400, description=f"pair {brief(pair, 50)!r} names one influencer twice")
        parsed.append((a, b))
    first: dict[frozenset[str], tuple[str, str]] = {}
    for a, b in parsed:  # a pair given both ways ("a b", "b a") is one pair: answered, and counted, once
        first.setdefault(frozenset((a, b)), (a, b))
    written: list[Written] = []
    settled: list[tuple[str, str]] = []  # merged (or one of them merged into a third) since the page was shown
    try:
        # Analytics waited for once, after the last answer (was: after each, 12 s for 100 pairs)
        pairs_left = list(first.values())
        for k, (a, b) in enumerate(pairs_left):
            try:
                with identity_errors():
                    written.append(corrections_client().answer(a, b, "different", wait=k == len(pairs_left) - 1))
            except HTTPException as exc:  # such a pair is passed over and named, as one answer's form does
                if exc.code != 404 or not _taken_away(a, b, exc.description or ""):
                    raise
                settled.append((a, b))
    except HTTPException as exc:  # refused half way for another reason
        if written:
            n = len(written)
            exc.description = (f"Kept {n} pair{'' if n == 1 else 's'} apart before this one was refused (each "
                               f"can be undone on the Audit page): {exc.description}")
        raise
    if len(written) == 1 and not settled:
        return _back_to_queue(written[0], ("different", *parsed[0]))
    values: dict[str, Any] = {}
    if request.form.get("unlikely") == "1":
        values["unlikely"] = 1
    if settled:  # each such pair is named (not_saved_note): the first few, then how many more
        named = settled[:NAMED_NOT_SAVED]
        values.update({NOT_SAVED: "different", PAIR_A: [a for a, _ in named], PAIR_B: [b for _, b in named]})
    if written and not written[-1].caught_up:  # the last applied: every answer before it is (positions in order)
        values["catching_up"] = 1
    response = redirect(url_for("corrections.review", **values), code=303)
    remember_dismissed(response, [w.audit_id for w in written])  # the count is read back from the audit rows
    if len(settled) > NAMED_NOT_SAVED:
        response.set_cookie(NOT_SAVED_MORE_COOKIE, str(len(settled) - NAMED_NOT_SAVED), max_age=DONE_COOKIE_S,
                            httponly=True, samesite="Strict", secure=request.is_secure, path="/")
    return response


@bp.post("/api/review/answer.json")
def answer_json() -> Response:
    """{"influencer_a", "influencer_b", "answer": "same" | "different" | "skip", "last_on_page": true when the page
    reloads after it} with the X-CSRF-Token header
    of the session; answers {"changed_videos": n, "caught_up": true | false (false: analytics is still
    catching up with the change), "message": what it did, in words, "audit_id", "undo": whether it can be
    undone (POST /undo), "undone": false}. A pair another session settled since the page was shown is a 404
    whose "queue" is the queue's address saying so and by what correction (the page goes there)."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested too deep for the parser: no object of ours
        body = None
    if not isinstance(body, dict):
        abort(400, description="send a JSON object with influencer_a, influencer_b and answer")
    try:
        written = _answer(body)
    except HTTPException as exc:
        queue = _settled_queue(body, exc)
        if not queue:
            raise
        refused = jsonify(error=exc.description, queue=queue)
        refused.status_code = 404
        return refused
    if written.audit_id:
        done = done_message(written.audit_id) or {"message": "Answer saved", "audit_id": written.audit_id,
                                                   "undo": False, "undone": False}
    else:  # another session gave it a moment before: said, never "Answer saved" as if this one had
        done = {"message": plain(answered_already(str(body.get("answer")), *_pair_of(body))), "audit_id": "",
                "undo": False, "undone": False}
    response = jsonify(changed_videos=written.changed_videos, caught_up=written.caught_up, **done)
    # The page reloads after a merge, and after its last pair: it says so, with an Undo that lands back on the pair
    # (or that it was merged). Was: after the last pair answered "different", the queue came back empty, silent.
    if body.get("answer") == "same" or body.get("last_on_page") is True:
        a, b = _pair_of(body)
        remember_done(response, written.audit_id, f"item-{a}-{b}")
        if body.get("answer") != "skip":  # a skip changes nothing by design: nothing to say
            remember_answered(response, written, (str(body.get("answer")), a, b))
    return response
