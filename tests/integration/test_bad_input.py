"""A manifest mixing every kind of bad row with good videos: every good video is processed, every bad one
gets its own clear error, nothing crashes, nothing is counted twice."""

import csv
import http.server
import shutil
import threading
import time

import av
import numpy as np
import pytest

from influencers.client import ingest_manifest
from influencers.stack import start_stack
from influencers.v1 import common_pb2
from services.common.rpc import open_channel

DONE = common_pb2.VIDEO_STATUS_DONE
FAILED = common_pb2.VIDEO_STATUS_FAILED
DUPLICATE = common_pb2.VIDEO_STATUS_DUPLICATE


def tiny_video(path, size=16, frames=10):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            img = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/slow.mp4":
            time.sleep(3)
        if self.path == "/redirect.mp4":
            self.send_response(302)
            self.send_header("Location", "/good_b.mp4")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def folder(tmp_path, corpus):
    smoke = corpus("smoke")
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(smoke / "videos" / "v0009.mp4", videos / "good_a.mp4")
    shutil.copy(smoke / "videos" / "v0041.mp4", videos / "good_b.mp4")
    shutil.copy(smoke / "videos" / "v0066.mp4", videos / "faceless.mp4")
    shutil.copy(smoke / "videos" / "v0009.mp4", videos / "copy_of_a.mp4")
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "notes.mp4").write_text("this is a text file, not a video\n")
    (videos / "watch.html").write_text("<!DOCTYPE html><html><head><title>Our new video</title></head></html>\n")
    data = (smoke / "videos" / "v0025.mp4").read_bytes()
    (videos / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (videos / "big.mp4").write_bytes(bytes(3_000_000))
    tiny_video(videos / "tiny.mp4")
    return videos


@pytest.fixture
def web(folder):
    import functools

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_bad_rows_get_clear_errors_and_good_rows_are_processed(settings, folder, web, tmp_path):
    rows = [
        ("1.0", "videos/good_a.mp4", DONE, ""),
        ("1.2", f"{web}/good_b.mp4", DONE, ""),
        ("0.9", "videos/faceless.mp4", DONE, ""),
        ("1.0", "videos/good_a.mp4", DUPLICATE, "same URL"),
        ("1.0", "videos/copy_of_a.mp4", DUPLICATE, "same video as"),
        ("1.1", f"{web}/redirect.mp4", DUPLICATE, "same video as"),
        ("1.0", "videos/missing.mp4", FAILED, "file not found"),
        ("1.0", "videos/empty.mp4", FAILED, "0 bytes"),
        ("1.0", "videos/notes.mp4", FAILED, "not a video (a text file)"),
        ("1.0", f"{web}/watch.html", FAILED, "not a video (a web page, HTML: the URL must give the video "
                                                    "file itself, not a page that plays it)"),
        ("1.0", "videos/big.mp4", FAILED, "more than the limit"),
        ("1.0", "videos/tiny.mp4", FAILED, "unsupported resolution 16x16"),
        ("1.0", f"{web}/nothing-here.mp4", FAILED, "HTTP 404"),
        ("1.0", f"{web}/slow.mp4", FAILED, "timed out"),
        ("1.0", "http://127.0.0.1:9/refused.mp4", FAILED, "cannot connect"),
        ("abc", "videos/good_b.mp4", FAILED, "not a number"),
        ("nan", "videos/good_b.mp4", FAILED, "not a finite number"),
        ("-2", "videos/good_b.mp4", FAILED, "negative"),
        ("", "videos/good_b.mp4", FAILED, "performance is missing"),
        ("1.0", "", FAILED, "URL is missing"),
        ("1.0", "gopher://x/y.mp4", FAILED, "unsupported URL scheme"),
    ]
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["Video URL", "Campaign", "Performance"])
        for perf, url, _, _ in rows:
            w.writerow([url, "q3", perf])

    stack = start_stack(settings.replace(max_video_bytes=2_500_000, fetch_timeout_s=1.0), web=False)
    try:
        results = ingest_manifest(open_channel(stack.settings.ingest_target), manifest, timeout_s=300)
        assert len(results) == len(rows)
        for perf, url, status, message in rows:
            seen = [(r.video.status, r.video.error) for r in results if r.video.url == url]
            assert any(s == status and message in e for s, e in seen), (url, perf, message, seen)
        done = stack.store.list_videos([DONE])
        assert sorted(v.url for v in done) == sorted(["videos/good_a.mp4", f"{web}/good_b.mp4", "videos/faceless.mp4"])
        frame = stack.store.appearance_frame()
        assert not frame.duplicated(["video_id", "influencer_id"]).any()
    finally:
        stack.stop()


def write_manifest(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Video URL", "Performance"])
        w.writerows(rows)
    return path


def test_same_names_in_two_folders_are_two_videos_and_a_bad_score_on_a_rerun_keeps_the_result(
    settings, tmp_path, corpus
):
    smoke = corpus("smoke")
    manifests = []
    for name, source, score in (("one", "v0009.mp4", "1.0"), ("two", "v0041.mp4", "2.0")):
        (tmp_path / name / "videos").mkdir(parents=True)
        shutil.copy(smoke / "videos" / source, tmp_path / name / "videos" / "clip.mp4")
        manifests.append(write_manifest(tmp_path / name / "manifest.csv", [("videos/clip.mp4", score)]))

    stack = start_stack(settings, web=False)
    try:
        channel = open_channel(stack.settings.ingest_target)
        firsts = [ingest_manifest(channel, m, timeout_s=300) for m in manifests]
        assert [r[0].video.status for r in firsts] == [DONE, DONE]
        assert sorted(stack.store.video_frame()["performance"]) == [1.0, 2.0]
        appearances = stack.store.appearance_frame()
        assert set(appearances["video_id"]) == {r[0].video.video_id for r in firsts}

        again = ingest_manifest(channel, manifests[1], timeout_s=300)
        assert again[0].video.status == DONE and again[0].video.video_id == firsts[1][0].video.video_id

        for bad in ("abc", "nan", "-1", ""):
            write_manifest(manifests[0], [("videos/clip.mp4", bad)])
            (rerun,) = ingest_manifest(channel, manifests[0], timeout_s=300)
            assert rerun.video.status == FAILED and "previous result is kept" in rerun.video.error, bad
            assert sorted(stack.store.video_frame()["performance"]) == [1.0, 2.0]
            assert stack.store.appearance_frame().equals(appearances)
    finally:
        stack.stop()


def test_rows_without_a_url_of_two_manifests_in_one_folder_are_each_listed_and_each_once_again(settings, tmp_path):
    # Keyed by the folder and line alone, week2's row overwrote week1's: 2 rows in, 1 in videos.csv.
    manifests = [tmp_path / "week1.csv", tmp_path / "week2.csv"]
    for m, score in zip(manifests, ("1.5", "2.5"), strict=True):
        m.write_text(f"Performance,Video URL\n{score},\n")
    stack = start_stack(settings, web=False)
    try:
        channel = open_channel(stack.settings.ingest_target)
        for m in (*manifests, manifests[0]):  # week1 run again: its row once
            (result,) = ingest_manifest(channel, m, timeout_s=120)
            assert result.video.status == FAILED and "video URL is missing" in result.video.error
        failed = stack.store.list_videos([FAILED])
        assert sorted(v.performance for v in failed) == [1.5, 2.5]
    finally:
        stack.stop()


def test_a_manifest_run_again_after_a_line_was_fixed_and_rows_moved_lists_each_row_of_today_once(settings, tmp_path):
    # Before: line 2's row without a URL stayed in videos.csv once the line gave a file (4 rows for 3), and a row
    # that moved down a line was listed at both lines. week2's row at line 2 is another manifest's: it stays.
    week1, week2 = tmp_path / "week1.csv", tmp_path / "week2.csv"
    week1.write_text("Performance,Video URL\n1.5,\n2.5,\n")
    week2.write_text("Performance,Video URL\n7.5,\n")
    stack = start_stack(settings, web=False)
    try:
        channel = open_channel(stack.settings.ingest_target)
        for m in (week1, week2):
            ingest_manifest(channel, m, timeout_s=120)
        week1.write_text("Performance,Video URL\n1.5,gone.mp4\n0.5,\n2.5,\n")  # line 2 fixed; line 3 new
        results = ingest_manifest(channel, week1, timeout_s=120)
        assert [r.video.status for r in results] == [FAILED] * 3
        # Rows run side by side: results come as each ends, not in the manifest's order.
        assert "gone.mp4" in {r.video.url: r.video.error for r in results}["gone.mp4"]
        failed = stack.store.list_videos([FAILED])
        assert sorted((v.url, v.performance) for v in failed) == [("", 0.5), ("", 2.5), ("", 7.5), ("gone.mp4", 1.5)]
    finally:
        stack.stop()
