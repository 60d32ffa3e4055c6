"""Reposts recognised before their faces are analysed (services/ingest/stream_digest.py and signature.py,
identity's CopyVideo), through the real stack: a remux (without decoding it) and a re-encode at another
quality of an analysed video get its people as copies, without detection; the same setting with another
person in it is analysed, and found to be someone else."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import av
import cv2
import grpc
import pytest

from influencers.client import ingest_manifest
from influencers.stack import start_stack
from services.common.rpc import open_channel
from tests.support.media import reencode, remux

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"


def staged(photo: Path, dst: Path, seconds: float = 3.0, fps: int = 10) -> Path:
    """A person (one photo) in a fixed setting, slowly zoomed: 720 x 720."""
    setting = cv2.resize(cv2.GaussianBlur(cv2.imread(str(sorted(PHOTOS.glob("*/*.jpg"))[-1])), (0, 0), 12),
                         (720, 720))
    face = cv2.imread(str(photo))
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 720
        stream.pix_fmt = "yuv420p"
        for k in range(int(seconds * fps)):
            frame = setting.copy()
            size = 300 + 2 * k
            frame[180:180 + size, 210:210 + size] = cv2.resize(face, (size, size))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def people_of(stack, video_path: Path) -> tuple[set[str], set[int]]:
    """(influencer ids, copy flags) of the faces identity stores for the video at `video_path`."""
    video = next(v for v in stack.store.list_videos() if v.location == str(video_path.resolve()))
    faces = stack.identity.store.faces_in(video.video_id)
    return {f.record.influencer_id for f in faces}, {f.record.copy for f in faces}


def test_a_remux_and_a_reencode_are_copied_and_another_person_in_the_same_setting_is_analysed(
        settings, corpus, tmp_path) -> None:
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    smoke, folder = corpus("smoke"), tmp_path / "videos"
    folder.mkdir()
    original = shutil.copy(smoke / "videos" / "v0009.mp4", folder / "original.mp4")  # one person
    people = sorted(p for p in PHOTOS.iterdir() if p.is_dir())
    first = staged(sorted(people[0].glob("*.jpg"))[0], folder / "first.mp4")
    second = staged(sorted(people[1].glob("*.jpg"))[0], folder / "second.mp4")
    again = [remux(Path(original), folder / "remux.mp4"), reencode(Path(original), folder / "reencoded.mp4", 30)]

    def manifest(name: str, paths: list[Path]) -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([["Performance", "Video URL"], *[[1.0, str(p)] for p in paths]])
        return path

    stack = start_stack(settings, web=False)
    try:
        channel = open_channel(stack.settings.ingest_target)
        ingest_manifest(channel, manifest("one.csv", [Path(original), first]), timeout_s=600)
        results = ingest_manifest(channel, manifest("two.csv", [*again, second]), timeout_s=600)
        source, copies = people_of(stack, Path(original))
        assert copies == {0} and len(source) == 1
        for path in again:
            assert people_of(stack, path) == (source, {1}), f"{path.name} was not copied from the original"
        decoded = {Path(r.video.location).name: "decode" in r.stage_durations for r in results}
        assert decoded == {"remux.mp4": False, "reencoded.mp4": True, "second.mp4": True}, \
            "the remux is known by its coded stream, before any decoding"
        one, two = people_of(stack, first), people_of(stack, second)
        assert one[1] == two[1] == {0}, "the same setting with another person must be analysed"
        assert one[0].isdisjoint(two[0])
    finally:
        stack.stop()


def original_ingested(stack, corpus, tmp_path: Path) -> tuple[grpc.Channel, Path, Path]:
    """v0009 of the smoke corpus (one person) copied to tmp_path/videos/original.mp4 and ingested alone through
    `stack`: (the channel to ingest with, the copy, its one-row manifest, to be written again for the next video)."""
    folder = tmp_path / "videos"
    folder.mkdir()
    original = Path(shutil.copy(corpus("smoke") / "videos" / "v0009.mp4", folder / "original.mp4"))
    channel = open_channel(stack.settings.ingest_target)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"Performance,Video URL\n1.0,{original}\n")
    ingest_manifest(channel, manifest, timeout_s=600)
    return channel, original, manifest


def test_a_video_whose_source_was_forgotten_is_analysed_instead(settings, corpus, tmp_path) -> None:
    stack = start_stack(settings, web=False)
    try:
        channel, original, path = original_ingested(stack, corpus, tmp_path)
        copy = remux(original, original.with_name("copy.mp4"))
        gone = next(v for v in stack.store.list_videos() if v.location == str(original.resolve()))
        stack.identity.registry.forget(gone.video_id)
        path.write_text(f"Performance,Video URL\n1.0,{copy}\n")
        ingest_manifest(channel, path, timeout_s=600)
        found, copies = people_of(stack, copy)
        assert len(found) == 1 and copies == {0}
    finally:
        stack.stop()


def test_a_remux_whose_first_frame_lies_later_on_its_timeline_is_copied_and_keeps_its_own_start(
        settings, corpus, tmp_path) -> None:
    """A remux is copied from its original without decoding; the page seeks its player to appearance times plus
    where its first frame lies, which a remuxer may move (here 0.5 s later): the copy keeps its own start, not
    the original's or none (docs/bad-input.md, test_player_start_offset)."""
    import subprocess

    stack = start_stack(settings, web=False)
    try:
        channel, original, path = original_ingested(stack, corpus, tmp_path)
        late = original.with_name("late.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-itsoffset", "0.5", "-i", str(original), "-map", "0:v", "-c",
                        "copy", str(late)], check=True)
        path.write_text(f"Performance,Video URL\n1.0,{late}\n")
        results = ingest_manifest(channel, path, timeout_s=600)
        assert "decode" not in results[0].stage_durations, "the remux is known by its coded stream"
        starts = {Path(v.location).name: v.start_s for v in stack.store.list_videos()}
        assert starts == {"original.mp4": 0.0, "late.mp4": pytest.approx(0.5)}, starts
    finally:
        stack.stop()
