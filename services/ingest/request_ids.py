"""StartIngest's idempotency key (StartIngestRequest.request_id, as Google's AIP-155 request_id): the key as stored,
and the digest that tells a retry of a submission from another submission sent under the same key."""

from __future__ import annotations

import hashlib
import uuid

from influencers.v1 import ingest_pb2
from services.common.boundary import shown


class RequestIdReused(ValueError):
    """A key a stored job holds, sent with another request (the message names the key and the job)."""


def request_key(request_id: str) -> str:
    """The key as stored: the UUID in its canonical form (lower case, hyphens), so that a key sent again in
    another spelling of the same UUID finds its job. ValueError naming `request_id` when it is no UUID."""
    try:
        return str(uuid.UUID(request_id))
    except ValueError:
        raise ValueError(f"request_id {shown(request_id)} is not a UUID: make one UUID (uuid4) for a submission "
                         "and send it again with every retry of that submission") from None


def request_digest(request: ingest_pb2.StartIngestRequest) -> str:
    """SHA-256 (hex) of what the request asks for: its videos and base_dir, the key left out. Deterministic
    serialisation, so that equal requests give equal digests whichever client built them. A digest, not the
    request: a signed link's secret is never kept at rest (job_store's rule)."""
    asked = ingest_pb2.StartIngestRequest(videos=request.videos, base_dir=request.base_dir)
    return hashlib.sha256(asked.SerializeToString(deterministic=True)).hexdigest()


def reused(request_id: str, job_id: str) -> RequestIdReused:
    """The refusal of a key that job `job_id` holds, sent with another request."""
    return RequestIdReused(f"request_id {request_id} was sent before with another request, which made job {job_id}: "
                           "a key names one submission; make a new one for a new submission")
