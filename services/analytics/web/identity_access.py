"""How the page's routes reach identity: the app's corrections client (503 when the page was started without
identity), and identity's refusals turned into the page's answers (its HTTP status, identity's message cut
short)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from flask import abort, current_app

from services.analytics.web.identity_calls import HTTP_STATUS, Corrections
from services.common.boundary import brief
from services.common.rpc_words import not_reached


def corrections_client() -> Corrections:
    corrections = current_app.extensions.get("corrections")
    if corrections is None:
        abort(503, description="corrections need the identity service, which this page was started without")
    return corrections


@contextmanager
def identity_errors() -> Iterator[None]:
    """Identity's refusal as the page's answer, with identity's message (cut short)."""
    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = (exc.details() if hasattr(exc, "details") else "") or "the identity service failed"
        said = brief(str(details), 200)
        if code == grpc.StatusCode.UNAVAILABLE and not_reached(str(details)):
            said = f"{NOT_ANSWERING} ({brief(str(details), 200)})"
        abort(HTTP_STATUS.get(code, 502), description=said)


NOT_ANSWERING = ("the identity service is not answering (is it running?): the review queue, names and corrections "
                 "need it; the other pages work without it. Try again once it is back")
