"""One log line per correction that identity answers (rename, merge, split, enrol, move, hide, delete, a review
answer), whoever asked: the CLI and the page both correct through these calls. The line names the correction
and its ids, and the feed position it was published at; a refused correction is logged with its status.

An erasure (delete) logs the SHA-256 of the influencer id only, as its audit record keeps it. Names (rename,
enrol) are not logged: the line says that a name was set, and how long it is.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)
T = TypeVar("T")


def _ids(request: Any) -> dict[str, object]:
    """The ids of a correction request, by field name (the erased id as its hash)."""
    kind = type(request).__name__
    if kind == "DeleteInfluencerRequest":
        return {"subject_sha256": hashlib.sha256(request.influencer_id.encode()).hexdigest()}
    fields: dict[str, object] = {}
    for name in ("influencer_id", "target_influencer_id", "influencer_a", "influencer_b", "video_id"):
        value = getattr(request, name, "")
        if value:
            fields[name] = value
    if kind == "MergeInfluencersRequest":
        fields["influencer_ids"] = ",".join(request.influencer_ids)
    if kind == "SplitInfluencerRequest":
        fields["videos"] = len(request.video_ids)
    if kind in ("RenameInfluencerRequest", "EnrolInfluencerRequest"):
        fields["name_chars"] = len(request.name.strip())
    if kind == "EnrolInfluencerRequest":
        fields["photos"] = len(request.photos)
    if kind == "HideInfluencerRequest":
        fields["hidden"] = request.hidden
    if kind == "AnswerReviewItemRequest":
        # The word (same, different, skip), not the enum's number; a number no answer has stays a number
        value = request.DESCRIPTOR.fields_by_name["answer"].enum_type.values_by_number.get(request.answer)
        fields["answer"] = value.name.removeprefix("REVIEW_ANSWER_").lower() if value else str(request.answer)
    return fields


# The RPC of each correction, and the word its log line says.
CORRECTIONS = {
    "RenameInfluencer": "rename", "MergeInfluencers": "merge", "SplitInfluencer": "split",
    "EnrolInfluencer": "enrol", "MoveAppearance": "move", "HideInfluencer": "hide", "DeleteInfluencer": "delete",
    "AnswerReviewItem": "review answer", "UndoCorrection": "undo",
}


def _position(reply: Any) -> int | None:
    for holder in (getattr(reply, "changes", None), getattr(reply, "influencer", None)):
        if holder is not None and hasattr(holder, "feed_position"):
            return int(holder.feed_position)
    return None


def logged(method: Callable[[Any, grpc.ServicerContext], Any], what: str
           ) -> Callable[[Any, grpc.ServicerContext], Any]:
    """`method` (a servicer's unary call), logging one line per call: done, or refused with its status."""

    def call(request: Any, context: grpc.ServicerContext) -> Any:
        fields = {"correction": what, **_ids(request)}
        try:
            reply = method(request, context)
        except Exception:
            code = context.code() if callable(getattr(context, "code", None)) else None
            log.info("correction refused", extra={**fields, "code": getattr(code, "name", "UNKNOWN")})
            raise
        log.info("correction", extra={**fields, "feed_position": _position(reply)})
        return reply

    return call


def log_corrections(servicer: T) -> T:
    """`servicer` with each correction method logging its line (instance attributes shadow the methods, which
    is what the generated add_*Servicer_to_server reads)."""
    for name, what in CORRECTIONS.items():
        setattr(servicer, name, logged(getattr(servicer, name), what))
    return servicer
