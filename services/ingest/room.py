"""Whether the disks an ingest row writes to have room, looked at while the job queue waits on a full disk: this
replica's own data dir (a statvfs: the job store, the downloads, in `run` and `serve` every store) and identity's
(GetRoom: its face store's and data dir's, on whatever machine identity runs). The job goes on, and is no longer
said stalled, within a second of space being freed on either (JobQueue's `room`); was: a disk of identity's on
another machine, or on a filesystem of its own, was met again only at the workers' next try, up to 30 s later."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.damage import has_room

ROOM_CALL_S = 2.0  # the deadline of one GetRoom: a GetJob waits on it while a job is stalled
ROOM_AGE_S = 0.5  # an answer is reused this long: every paused worker thread, and every GetJob, asks


class Room:
    """`room()`: True when this replica's data dir has `min_free_bytes` free and identity says its disks have room;
    True too when identity cannot tell (unreachable, or of a release without GetRoom: UNIMPLEMENTED): nothing then
    to watch but the workers' next try."""

    def __init__(self, data_dir: Path, min_free_bytes: int, identity: identity_pb2_grpc.IdentityServiceStub) -> None:
        self._data_dir = data_dir
        self._min_free_bytes = min_free_bytes
        self._identity = identity
        self._lock = threading.Lock()
        self._said: tuple[float, bool] | None = None  # (when, identity's answer)

    def __call__(self) -> bool:
        return has_room(self._data_dir, self._min_free_bytes) and self._identity_has_room()

    def _identity_has_room(self) -> bool:
        with self._lock:
            if self._said is not None and time.monotonic() - self._said[0] < ROOM_AGE_S:
                return self._said[1]
        try:
            answer = self._identity.GetRoom(identity_pb2.GetRoomRequest(), timeout=ROOM_CALL_S).has_room
        except grpc.RpcError:
            answer = True
        with self._lock:
            self._said = (time.monotonic(), answer)
        return answer
