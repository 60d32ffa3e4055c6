"""Single services on free loopback ports, called through their real gRPC stubs: identity with one random face
per influencer written straight into its store, and ingest beside an analytics already running."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc
import numpy as np

from influencers.v1 import identity_pb2_grpc, ingest_pb2_grpc
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.identity.facestore import FacePoint, FaceRecord, point_id
from services.identity.process import IdentityProcess
from services.ingest.server import IngestProcess


@contextmanager
def seeded_identity(settings: Settings, videos: Sequence[str],
                    influencers: Sequence[str]) -> Iterator[identity_pb2_grpc.IdentityServiceStub]:
    """Identity whose store holds one face of influencers[k] in videos[k] (random encodings, seed 0)."""
    process = IdentityProcess(settings)
    rng = np.random.default_rng(0)
    process.store.upsert([
        FacePoint(point_id(v, 0, 0), rng.normal(size=128).astype(np.float32), FaceRecord(v, 0, i))
        for v, i in zip(videos, influencers, strict=True)])
    with _called(process, timeout_s=60) as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)


@contextmanager
def ingest_beside(settings: Settings, analytics_port: int) -> Iterator[ingest_pb2_grpc.IngestServiceStub]:
    """Ingest recording to the analytics on `analytics_port`. Identity is never called (no job runs): its
    address only has to be a loopback one."""
    process = IngestProcess(settings.replace(analytics_addr=f"127.0.0.1:{analytics_port}",
                                             identity_addr="127.0.0.1:9"))
    with _called(process, timeout_s=10) as channel:
        yield ingest_pb2_grpc.IngestServiceStub(channel)


@contextmanager
def _called(process: IdentityProcess | IngestProcess, timeout_s: float) -> Iterator[grpc.Channel]:
    """A channel to `process` once it is healthy; the channel closed and the process stopped on leaving."""
    channel = open_channel(f"127.0.0.1:{process.port}")
    try:
        wait_healthy(channel, timeout_s=timeout_s)
        yield channel
    finally:
        channel.close()
        process.stop(grace_s=1)
