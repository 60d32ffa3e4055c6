"""Ingest's look at the disks its rows write to (services/ingest/room.py): its data dir's, and identity's through
GetRoom, with fakes of identity's stub."""

from __future__ import annotations

from pathlib import Path

import grpc

from influencers.v1 import identity_pb2
from services.ingest.room import Room
from tests.support.rpc_errors import FakeRpcError, unavailable


class Identity:
    """GetRoom answering `has_room`, or raising `error`; counts the calls."""

    def __init__(self, has_room: bool = True, error: Exception | None = None) -> None:
        self.has_room, self.error, self.calls = has_room, error, 0

    def GetRoom(self, request, timeout=None):  # noqa: N802 - the stub's name
        self.calls += 1
        if self.error is not None:
            raise self.error
        return identity_pb2.GetRoomResponse(has_room=self.has_room, refusal="" if self.has_room else "disk full: ...")


def test_identity_saying_its_disk_is_full_is_no_room_though_the_data_dir_has_some(tmp_path: Path) -> None:
    assert not Room(tmp_path, 0, Identity(has_room=False))()  # type: ignore[arg-type]
    assert Room(tmp_path, 0, Identity(has_room=True))()  # type: ignore[arg-type]


def test_the_data_dirs_own_full_disk_is_no_room_without_asking_identity(tmp_path: Path) -> None:
    identity = Identity()
    assert not Room(tmp_path, 1 << 62, identity)()  # type: ignore[arg-type]
    assert identity.calls == 0


def test_an_identity_that_cannot_tell_leaves_nothing_to_watch(tmp_path: Path) -> None:
    # An identity of the release before answers UNIMPLEMENTED; one away, UNAVAILABLE: the workers' next try decides.
    for error in (FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!"), unavailable()):
        assert Room(tmp_path, 0, Identity(error=error))()  # type: ignore[arg-type]


def test_identitys_answer_is_reused_for_half_a_second_as_every_paused_worker_and_getjob_asks(tmp_path: Path) -> None:
    identity = Identity(has_room=False)
    room = Room(tmp_path, 0, identity)  # type: ignore[arg-type]
    assert [room() for _ in range(5)] == [False] * 5
    assert identity.calls == 1
