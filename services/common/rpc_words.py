"""A failed gRPC call as a person reads it: which service, at which address, and what happened, in words. gRPC's
code names ("UNAVAILABLE", "FAILED_PRECONDITION") tell an analyst nothing; the service's own details, which name
the bad input, are kept whole after the words."""

from __future__ import annotations

import grpc

from services.common.call_names import METHOD_ATTR, call_name

# gRPC's own words when the call never reached the service (stopped, restarting, a wrong address), as opposed to
# a service's UNAVAILABLE with words of ours ("the database is unreachable", "receiving N videos at once").
TRANSPORT_FAILURES = ("failed to connect to all addresses", "connections to all backends failing",
                      "socket closed", "stream removed", "connection reset", "dns resolution failed",
                      "connection refused", "goaway")
OUR_SERVICES = ("ingest", "identity", "analytics")
# The caller asked for something the service will not do (an unknown id, a bad value, a state that forbids it)
REFUSALS = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                      grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
                      grpc.StatusCode.OUT_OF_RANGE})
_SAID = {  # what the service did, after "the identity service at 127.0.0.1:50052"
    grpc.StatusCode.DEADLINE_EXCEEDED: "did not answer in time",
    grpc.StatusCode.UNAUTHENTICATED: "refused the token",
    grpc.StatusCode.PERMISSION_DENIED: "does not allow it",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "cannot take it now",  # a full disk, or a limit of calls at once
    # A port of another of our services given for this one (--ingest-port 50052) answers so too, as a version
    # without the call does.
    grpc.StatusCode.UNIMPLEMENTED: "does not know this call (is another service at that port, or another version?)",
    grpc.StatusCode.CANCELLED: "cancelled the call",
    grpc.StatusCode.ABORTED: "stopped the call (a change at the same moment?): try again",
    grpc.StatusCode.DATA_LOSS: "cannot read its store",
}


def not_reached(details: str) -> bool:
    """True when an UNAVAILABLE's `details` are gRPC's words for a call that never reached the service."""
    lowered = details.lower()
    return any(marker in lowered for marker in TRANSPORT_FAILURES)


def service_of(exc: BaseException) -> str:
    """Which of our services answered `exc` ("identity"), from the method its channel named on it
    (call_names.CallNames); "" when unnamed or another package's (the health service)."""
    service = call_name(str(getattr(exc, METHOD_ATTR, "") or "/")).partition(".")[0]
    return service if service in OUR_SERVICES else ""


def in_words(code: grpc.StatusCode, details: str, service: str = "", target: str = "") -> str:
    """A failed call in words, `details` kept whole after them: "refused: no influencer 'inf_…'" for a request
    the service would not do; "the identity service at 127.0.0.1:50052 is not reachable (...)" when the call never
    reached it; "the identity service ... failed: ..." for its own error. `service` and `target` name it when
    known ("identity", "127.0.0.1:50052")."""
    said = details or "no reason given"
    if code in REFUSALS:
        return f"refused: {said}"
    where = f"the {service} service" if service else "the service"
    where += f" at {target}" if target else ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"{where} is not reachable ({said})" if not_reached(details) or not details else \
            f"{where} cannot answer now: {said}"
    if code in _SAID:
        return f"{where} {_SAID[code]}: {said}"
    return f"{where} failed: {said}"  # INTERNAL, UNKNOWN: its log has the rest
