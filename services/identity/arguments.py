"""The checks of a request's arguments, and a domain refusal as a status: each aborts the call with
INVALID_ARGUMENT or NOT_FOUND and a message that shows the caller's value cut short (services/common/boundary.py),
before the value reaches the registry or the store."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from services.common.boundary import brief, is_influencer_id, shown
from services.common.paging import page_size
from services.identity.crops import check_id

NAME_CHARS = 256  # characters of a name require_name takes: a host name (253), a batch's uuid


def require_id(context: grpc.ServicerContext, value: str, what: str) -> None:
    """INVALID_ARGUMENT for anything but an id (crops.check_id: letters, digits, _ or -), named `what`."""
    try:
        check_id(value, what)
    except ValueError:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"{what} {shown(value)} is not a valid id (letters, digits, _ or -, at most 64)")


def require_name(context: grpc.ServicerContext, value: str, what: str, limit: int = NAME_CHARS) -> None:
    """INVALID_ARGUMENT for anything but 1 to `limit` printable characters (a host name, a batch's uuid), named
    `what`: such a value is stored as a key and payload, and shown in logs."""
    if not 0 < len(value) <= limit or not value.isprintable():
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"{what} {shown(value)} is not a name (1 to {limit} printable characters)")


def require_influencer(context: grpc.ServicerContext, value: str, what: str = "influencer_id") -> None:
    """INVALID_ARGUMENT for anything but an influencer id: a well-formed id that is not stored is NOT_FOUND,
    told apart by the caller's handler."""
    if not is_influencer_id(value):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"{what} {shown(value)} is not an influencer id (inf_ and 10 hex digits)")


def parsed_token(context: grpc.ServicerContext, check: Callable[[str], str], token: str) -> str:
    """`check(token)`, or INVALID_ARGUMENT naming the (cut) token."""
    try:
        return check(token)
    except ValueError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise


def refuse(context: grpc.ServicerContext, exc: KeyError | ValueError) -> None:
    """A domain refusal as a status: an unknown id (KeyError) is NOT_FOUND, a bad value INVALID_ARGUMENT."""
    context.abort(grpc.StatusCode.NOT_FOUND if isinstance(exc, KeyError) else grpc.StatusCode.INVALID_ARGUMENT,
                  error_text(exc))


def error_text(exc: Exception) -> str:
    """The text of a domain error for a status message: a KeyError's own text, not its repr, cut short."""
    return brief(str(exc.args[0]) if exc.args else type(exc).__name__)


def checked_page_size(requested: int, context: grpc.ServicerContext, maximum: int | None = None) -> int:
    """page_size(requested) (at most `maximum` if given), or INVALID_ARGUMENT."""
    try:
        return page_size(requested, maximum, maximum) if maximum else page_size(requested)
    except ValueError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise
