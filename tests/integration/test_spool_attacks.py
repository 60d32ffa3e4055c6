"""The spools a video's frames wait in (services/common/spool.py), attacked through the real services: an
identity server on loopback with its worker process, ingest's pipeline sending it a real video, files in
a temp dir. What a spool file costs must end with the call that made it, however the call ends."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import cv2
import grpc
import numpy as np
import pytest

from influencers.v1 import analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.protoconv import duration
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.common.spool import Spool, SpoolError
from services.identity.process import IdentityProcess
from services.ingest.pipeline import VideoPipeline
from tests.integration.test_pipeline_rows import make_video

MIB = 1024 * 1024
STREAM_CAP = 60_000  # bytes per AnalyzeVideo stream at this identity: a few of the test video's frames


def jpeg(seed: int = 0, size: int = 64) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(seed).integers(0, 255, (size, size, 3), np.uint8))
    assert ok
    return buf.tobytes()


def frame(index: int, video_id: str, image: bytes | None = None) -> identity_pb2.AnalyzeVideoRequest:
    return identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=index, timestamp=duration(index),
                                            span=duration(1.0), image=jpeg(index) if image is None else image)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdentityProcess, str]]:
    """An identity server whose every frame goes to a spool file (spool memory 0); returns it and its target."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("identity"), identity_port=0, analytics_port=0,
                        ingest_port=0, workers=1, spool_memory_bytes=0, max_stream_bytes=STREAM_CAP)
    process = IdentityProcess(settings)
    target = f"127.0.0.1:{process.port}"
    channel = open_channel(target)
    wait_healthy(channel, timeout_s=60)
    channel.close()
    yield process, target
    process.stop(grace_s=1)


def spool_files_open() -> list[str]:
    """What this process holds open of spool files (a removed one shows as '... (deleted)')."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "/spool-" in target:
            held.append(target)
    return held


def test_a_call_identity_ends_early_leaves_no_spool_file_open_in_ingest(identity, tmp_path) -> None:
    # Identity refuses the stream a few frames in (its byte cap; a deadline or a restart end it the same
    # way): ingest's spool file is removed, and nothing may keep it open, or its disk space stays taken
    # (a long video's: gigabytes) until a garbage collection happens to run.
    _, target = identity
    store = AnalyticsStore(tmp_path / "analytics.sqlite")
    settings = Settings(data_dir=tmp_path / "ingest", analytics_port=0, rpc_timeout_s=60, spool_memory_bytes=0,
                        sample_interval_s=0.2)
    analytics = serve_analytics(settings, store)
    channels = [open_channel(target), open_channel(f"127.0.0.1:{analytics.port}")]
    pipeline = VideoPipeline(settings, identity_pb2_grpc.IdentityServiceStub(channels[0]),
                             analytics_pb2_grpc.AnalyticsServiceStub(channels[1]))
    make_video(tmp_path / "m" / "long.mp4", seed=3, frames=60)
    gc.disable()  # what only a collection would close must count as open
    try:
        outcome = pipeline.process("long.mp4", 1.0, "", "", tmp_path / "m")
        assert outcome.video.status == common_pb2.VIDEO_STATUS_FAILED
        assert "INVALID_ARGUMENT" in outcome.video.error and "bytes per video" in outcome.video.error
        deadline = time.monotonic() + 3
        while spool_files_open() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spool_files_open() == []
    finally:
        gc.enable()
        pipeline.close()
        for channel in channels:
            channel.close()
        analytics.stop(grace_s=0.5)
        store.close()


def test_a_scratch_folder_removed_under_identity_refuses_the_video_naming_the_folder(identity) -> None:
    # An operator empties DATA/tmp while identity runs: the spool is refused in one line that names the
    # folder (as the spool promises), not an internal error, and the service goes on.
    process, target = identity
    folder = process.servicer.scratch.path
    shutil.rmtree(folder)
    channel = open_channel(target)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            identity_pb2_grpc.IdentityServiceStub(channel).AnalyzeVideo(
                iter([frame(i, "00000000000000a7") for i in range(2)]), timeout=30)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
        # the data dir as DATA: a service's answer never shows its absolute paths
        shown = f"DATA/{folder.relative_to(process.settings.data_dir).as_posix()}"
        assert f"cannot keep frames in {shown}" in caught.value.details()
    finally:
        channel.close()
        folder.mkdir()


def test_a_stopped_identity_process_removes_its_scratch_folder_as_ingest_does(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", identity_port=0, analytics_port=0, ingest_port=0, workers=1)
    process = IdentityProcess(settings)
    assert [p.name for p in (settings.data_dir / "tmp" / "downloads").iterdir()] != []
    process.stop(grace_s=0.5)
    assert list((settings.data_dir / "tmp" / "downloads").iterdir()) == [], "left behind while the object lives"


@pytest.fixture
def disk(tmp_path):
    """A 48 MiB tmpfs (root only); unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_spool_already_in_its_file_stops_before_it_eats_into_the_room_kept_free(disk):
    # 4 MiB above the margin when the spool moves to its file: it may take those, not the margin under
    # them (the stores' mapped writes need it: a full disk there is a SIGBUS), and says "disk full".
    margin = shutil.disk_usage(disk).free - 4 * MIB
    lowest = shutil.disk_usage(disk).free
    with Spool(disk, memory_bytes=0, min_free_bytes=margin) as spool, \
            pytest.raises(SpoolError, match="^disk full"):
        for _ in range(200):  # 20 MiB at most
            spool.append(b"\1" * 100_000)
            spool.reader()  # flushed: on the disk
            lowest = min(lowest, shutil.disk_usage(disk).free)
    assert lowest >= margin, f"the spool left {(margin - lowest) / MIB:.1f} MiB less than the margin free"
