"""Rows whose location cannot be used, a truncated video and the download folder, through VideoPipeline with
the real analytics service (gRPC on loopback, SQLite in a temp dir) and a fake identity service."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import grpc
import pytest

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.call_names import METHOD_ATTR
from services.common.damage import DiskFull
from services.common.datadir import DOWNLOADS, ScratchDir, sweep_scratch
from services.common.protoconv import seconds
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.ingest.fetch import local_path
from services.ingest.pipeline import VideoPipeline
from tests.integration.test_odd_media import write_faststart_mp4
from tests.support.rpc_errors import FakeRpcError, disk_full, unavailable

DONE = common_pb2.VIDEO_STATUS_DONE
FAILED = common_pb2.VIDEO_STATUS_FAILED


class NoFaces:
    """The one identity call the pipeline makes: every video is analysed and shows nobody."""

    def AnalyzeVideo(self, frames, timeout=None):  # noqa: N802 - the stub's name
        frames = list(frames)
        return identity_pb2.AnalyzeVideoResponse(video_id=frames[0].video_id, frames=len(frames))


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[VideoPipeline]:
    store = AnalyticsStore(tmp_path / "analytics.sqlite")
    settings = Settings(data_dir=tmp_path / "data", analytics_port=0, rpc_timeout_s=30,
                        allow_private_urls=True)  # the test servers are on loopback
    running = serve_analytics(settings, store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    wait_healthy(channel, timeout_s=10)
    pipe = VideoPipeline(settings, NoFaces(), analytics_pb2_grpc.AnalyticsServiceStub(channel))  # type: ignore[arg-type]
    yield pipe
    pipe.close()
    channel.close()
    running.stop(grace_s=0.5)
    store.close()


# A NUL written as such never reaches a row: StartIngest refuses it, as no store keeps it (test_grpc_boundary::
# test_start_ingest_refuses_a_nul_character_naming_the_row_and_field_and_starts_no_job); %00 in a file: URL does.
@pytest.mark.parametrize(("url", "reason"), [
    ("file:///tmp/a%00b.mp4", "file:///tmp/a%00b.mp4: invalid path (NUL character)"),
    ("file:///tmp/a%FFb.mp4", "file:///tmp/a%FFb.mp4: invalid path (its %-escapes are not UTF-8)"),
    ("file://files.example.com/a.mp4", "file://files.example.com/a.mp4: a file URL of another host "
                                       "('files.example.com'): give a path on this machine"),
    ("~no-such-user-here/x.mp4", "~no-such-user-here/x.mp4: invalid path ('~no-such-user-here': no such user's "
                                 "home folder)"),
])
def test_a_location_that_cannot_be_resolved_is_a_clean_row_error_naming_it(pipeline, tmp_path, url, reason):
    outcome = pipeline.process(url, 1.0, "", "", tmp_path)
    assert outcome.video.status == FAILED
    assert outcome.video.error == reason and outcome.recorded
    assert "Error" not in outcome.video.error  # no exception class name: words only


def test_a_file_url_is_percent_decoded_and_names_the_same_video_as_its_path(pipeline, tmp_path):
    write_faststart_mp4(tmp_path / "a clip é.mp4", seconds=2)
    url = f"file://localhost{quote(str(tmp_path))}/a%20clip%20%C3%A9.mp4"
    assert local_path(url, tmp_path) == local_path("a clip é.mp4", tmp_path) == (tmp_path / "a clip é.mp4")
    outcome = pipeline.process(url, 1.0, "", "", tmp_path)
    assert outcome.video.status != FAILED, outcome.video.error


def test_a_symlink_loop_is_a_clean_row_error_naming_it(pipeline, tmp_path):
    (tmp_path / "loop.mp4").symlink_to(tmp_path / "loop.mp4")
    outcome = pipeline.process("loop.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status == FAILED
    assert outcome.video.error.startswith("loop.mp4: ")


def test_a_truncated_video_is_done_with_its_decoded_duration_and_a_warning(pipeline, tmp_path):
    whole = write_faststart_mp4(tmp_path / "whole.mp4", seconds=6)
    (tmp_path / "cut.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    outcome = pipeline.process("cut.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status == DONE
    assert 2.0 <= seconds(outcome.video.duration) <= 4.0
    assert outcome.video.error.startswith("warning: decoding stopped at ")
    again = pipeline.process("cut.mp4", 1.0, "", "", tmp_path)  # a rerun with a score keeps the warning
    assert again.video.error == outcome.video.error


def test_downloads_go_to_a_folder_of_the_process_under_the_data_dir(pipeline, tmp_path):
    folder = pipeline.policy.tmp_dir
    assert folder is not None and folder.parent == tmp_path / "data" / DOWNLOADS
    pipeline.close()
    assert not folder.exists()


def test_a_killed_processs_download_folder_is_swept_at_the_next_start(tmp_path):
    data = tmp_path / "data"
    # A process that makes its folder, leaves a half download in it and is SIGKILLed.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path;"
         " from services.common.datadir import ScratchDir; s = ScratchDir(Path(sys.argv[1]));"
         " (s.path / 'video-x.mp4').write_bytes(b'half');"
         " print(s.path, flush=True); time.sleep(60)", str(data)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        left = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
        assert (left / "video-x.mp4").exists()
        assert sweep_scratch(data / DOWNLOADS) == 0, "a live process's folder is never swept"
    finally:
        child.kill()
        child.wait(10)
    assert (left / "video-x.mp4").exists(), "SIGKILL ran no clean-up"
    scratch = ScratchDir(data)
    try:
        assert scratch.swept == 1 and not left.exists()
        assert [p.name for p in (data / DOWNLOADS).iterdir()] == [scratch.path.name]
    finally:
        scratch.close()


def test_a_stray_file_and_an_unfinished_folder_of_a_dead_maker_are_swept(tmp_path):
    root = tmp_path / DOWNLOADS
    root.mkdir(parents=True)
    (root / "video-abc.mp4").write_bytes(b"x")
    unfinished = root / ".123-abc"
    unfinished.mkdir()
    os.utime(unfinished, (0, 0))
    fresh = root / ".456-def"
    fresh.mkdir()
    assert sweep_scratch(root) == 2
    assert [p.name for p in root.iterdir()] == [".456-def"], "a folder being set up right now is left alone"


def test_ingest_shows_a_truncated_video_as_done_with_a_warning_line(stack, tmp_path, capsys):
    from influencers.cli import main

    whole = write_faststart_mp4(tmp_path / "whole.mp4", seconds=6)
    (tmp_path / "cut.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("Performance,Video URL\n1.0,cut.mp4\n")
    capsys.readouterr()
    assert main(["ingest", str(manifest), "--ingest-port", str(stack.settings.ingest_port)]) == 0
    out, err = capsys.readouterr()
    assert "videos: 1 done\n" in out
    (warning,) = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert warning.startswith("WARNING cut.mp4: decoding stopped at ") and "the file is cut short" in warning
    (row,) = [v for v in stack.store.video_frame().itertuples() if v.url == "cut.mp4"]
    assert 2.0 <= row.duration_s <= 4.0
    assert "1/1 [" in err and "0video" not in err, "the bar counts toward the job's total from the start"

    # With JSON logs, stderr is JSON lines only: no bar, and the warning is a record of its own.
    env = {**os.environ, "INFLUENCERS_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-m", "influencers", "ingest", str(manifest), "--ingest-port",
                           str(stack.settings.ingest_port)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any(r["event"].startswith("job ") for r in records)
    assert "videos: 1 done (1 counted before: not analysed again)" in done.stdout, "the rerun says it"


def test_a_rerun_counts_as_counted_before_only_the_rows_it_says_are_done(pipeline, tmp_path, monkeypatch, capsys):
    # Found by rerunning a manifest with a copied file: its duplicate row came back counted before too, and
    # the summary read 'videos: 1 done (2 counted before: not analysed again), 1 duplicate'.
    from influencers.cli import jobs
    from influencers.v1 import ingest_pb2

    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    (tmp_path / "copy.mp4").write_bytes((tmp_path / "a.mp4").read_bytes())
    first = [pipeline.process(url, 1.0, "", "", tmp_path) for url in ("a.mp4", "copy.mp4")]
    assert [o.video.status for o in first] == [DONE, common_pb2.VIDEO_STATUS_DUPLICATE]
    again = [pipeline.process(url, 1.0, "", "", tmp_path) for url in ("a.mp4", "copy.mp4")]
    assert all(o.already_counted for o in again)
    results = [ingest_pb2.WatchJobResponse(video=o.video, already_counted=o.already_counted) for o in again]
    job = ingest_pb2.Job(job_id="j", state=ingest_pb2.JOB_STATE_SUCCEEDED, total=2, done=2)
    monkeypatch.setattr(jobs, "watch_job", lambda channel, job_id, timeout, progress, keep: (
        [progress(r) for r in results] and [], job))
    assert jobs._follow(None, "j", jobs.Tally(), 2, json_logs=True) == 0
    assert "videos: 1 done (1 counted before: not analysed again), 1 duplicate\n" in capsys.readouterr().out


def test_a_video_the_server_sent_gzip_compressed_is_analysed_and_is_one_video_with_its_plain_copy(
        pipeline, tmp_path, http_server):
    # Before: `not a readable video (invalid data): the server sent it compressed (Content-Encoding: gzip)`.
    video = write_faststart_mp4(tmp_path / "v.mp4", seconds=2).read_bytes()
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    plain.mkdir()
    packed.mkdir()
    (plain / "v.mp4").write_bytes(video)
    (packed / "v.mp4").write_bytes(gzip.compress(video))
    compressed = pipeline.process(f"{http_server(packed, headers={'Content-Encoding': 'gzip'})}/v.mp4", 1.0, "", "",
                                  tmp_path)
    assert compressed.video.status == DONE, compressed.video.error
    copy = pipeline.process(f"{http_server(plain)}/v.mp4", 1.0, "", "", tmp_path)
    assert copy.video.status == common_pb2.VIDEO_STATUS_DUPLICATE
    assert copy.video.video_id == compressed.video.video_id
    assert copy.video.error == f"same video as {compressed.video.url}"


def test_a_video_sent_in_a_coding_not_decoded_here_fails_naming_its_content_encoding(pipeline, tmp_path, http_server):
    served = tmp_path / "served"
    served.mkdir()
    (served / "v.mp4").write_bytes(b"\x1b\x00\x00 brotli bytes, no video")  # what br bytes look like to a decoder
    url = f"{http_server(served, headers={'Content-Encoding': 'br'})}/v.mp4"
    outcome = pipeline.process(url, 1.0, "", "", tmp_path)
    assert outcome.video.status == FAILED
    assert outcome.video.error.startswith(f"{url}: not a ")
    assert outcome.video.error.endswith(": the server sent it compressed (Content-Encoding: br; only gzip and deflate "
                                        "are decoded), where the URL must give the video file itself")


@pytest.mark.parametrize(("name", "row_error", "shown"), [
    ("red\x1b[31m.mp4", "", "red\\x1b[31m.mp4: not a video (a text file)"),
    ("a" * 5000 + ".mp4", "line 2: performance is missing",
     "a" * 200 + "… (5004 chars): line 2: performance is missing"),
])
def test_a_row_error_names_its_url_escaped_and_cut_short_like_a_fetch_error(pipeline, tmp_path, name, row_error,
                                                                            shown):
    # Before: the URL as written, whole (5,000 characters on one line) and with its terminal escapes live.
    if not row_error:
        (tmp_path / name).write_text("not a video\n")
    outcome = pipeline.process(name, None if row_error else 1.0, "", row_error, tmp_path)
    assert outcome.video.status == FAILED
    assert outcome.video.error == shown


def test_a_signed_urls_signature_and_token_are_never_recorded_or_shown_and_it_stays_its_own_row(
        pipeline, tmp_path, http_servers, caplog):
    # Before: the row was recorded, shown and exported with its X-Amz-Signature, token and key as given.
    _, base, _ = served_video(http_servers, tmp_path)
    signed = f"{base}/v.mp4?X-Amz-Credential=AKIAHUNTER2&X-Amz-Signature=hunter2sig&versionId=3"
    outcome = pipeline.process(signed, 1.0, "", "", tmp_path)  # the server ignores the query: fetched as given
    assert outcome.video.status == DONE, outcome.video.error
    assert outcome.video.url == f"{base}/v.mp4?X-Amz-Credential=***&X-Amz-Signature=***&versionId=3"
    # The same link again is the same row; one signed again (another signature) is another row of the same video.
    assert pipeline.process(signed, 1.0, "", "", tmp_path).already_counted
    again = pipeline.process(signed.replace("hunter2sig", "hunter3sig"), 1.0, "", "", tmp_path)
    assert (again.video.status, again.already_counted) == (common_pb2.VIDEO_STATUS_DUPLICATE, False)
    assert again.video.error == f"same video as {outcome.video.url}"
    missing = pipeline.process(f"{base}/gone.mp4?token=hunter2tok&sig=hunter2", 1.0, "", "", tmp_path)
    assert missing.video.error == f"{base}/gone.mp4?token=***&sig=***: HTTP 404 (not found)"
    written = [f"{o.video.url} {o.video.location} {o.video.error}" for o in (outcome, again, missing)]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("analytics.sqlite*"))
    logged = " ".join(str(vars(record)) for record in caplog.records)  # the row's reason is a field of its line
    assert "hunter" not in " ".join(written) + logged and b"hunter" not in stored


# Shown, exported, logged and kept as given before (analytics migration 0015 and ingest 0009 rewrite older stores).
NAMES_SINCE_0015 = ("code", "st", "hdntl", "oauth_token", "lsig", "oh", "auth_key", "sign", "verify", "x-oss-signature",
                    "q-signature", "authkey", "tempauth", "rlkey", "private_token", "sas", "jsessionid")


def test_an_oauth_code_a_cdns_st_token_and_other_signed_link_names_are_never_recorded_or_shown(
        pipeline, tmp_path, http_servers, caplog):
    _, base, _ = served_video(http_servers, tmp_path)
    query = "&".join(f"{name}=hunter2{k}" for k, name in enumerate(NAMES_SINCE_0015))
    signed = f"{base}/v.mp4?id=7&{query}&e=1700000000"
    outcome = pipeline.process(signed, 1.0, "", "", tmp_path)
    assert outcome.video.status == DONE, outcome.video.error
    hidden = "&".join(f"{name}=***" for name in NAMES_SINCE_0015)
    assert outcome.video.url == f"{base}/v.mp4?id=7&{hidden}&e=1700000000"
    assert pipeline.process(signed, 1.0, "", "", tmp_path).already_counted, "the same link is the same row"
    again = pipeline.process(signed.replace("hunter20", "hunter30"), 1.0, "", "", tmp_path)  # another OAuth code
    assert (again.video.status, again.already_counted) == (common_pb2.VIDEO_STATUS_DUPLICATE, False)
    missing = pipeline.process(f"{base}/gone.mp4;jsessionid=hunter2j?code=hunter2c&st=hunter2s", 1.0, "", "",
                               tmp_path)
    assert missing.video.error == f"{base}/gone.mp4;jsessionid=***?code=***&st=***: HTTP 404 (not found)"
    written = [f"{o.video.url} {o.video.location} {o.video.error}" for o in (outcome, again, missing)]
    listed = pipeline.analytics.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("analytics.sqlite*"))
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert "hunter" not in " ".join(written) + repr(listed) + logged and b"hunter" not in stored


def test_a_token_in_a_signed_urls_path_is_hidden_where_the_row_is_shown_and_the_file_name_kept(
        pipeline, tmp_path, http_server, caplog):
    # Before: the row was shown, exported and logged as https://cdn/token=hunter2tok/v.mp4, its token as given.
    served = tmp_path / "served"
    (served / "token=hunter2tok").mkdir(parents=True)
    write_faststart_mp4(served / "token=hunter2tok" / "v.mp4", seconds=2)
    base = http_server(served)
    outcome = pipeline.process(f"{base}/token=hunter2tok/v.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status == DONE, outcome.video.error
    assert outcome.video.url == f"{base}/token=***/v.mp4"
    assert pipeline.process(f"{base}/token=hunter2tok/v.mp4", 1.0, "", "", tmp_path).already_counted
    missing = pipeline.process(f"{base}/sig/hunter2sig/gone.mp4", 1.0, "", "", tmp_path)
    assert missing.video.error == f"{base}/sig/***/gone.mp4: HTTP 404 (not found)"
    shown = f"{outcome.video.url} {missing.video.url} {missing.video.error}"
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert "hunter" not in shown + logged
    # Nor in the row's key, which gRPC returns and the database keeps (before: the path token as given).
    listed = pipeline.analytics.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert "/token=sha256-" in outcome.video.location and "hunter" not in repr(listed) + outcome.video.location
    assert b"hunter" not in b"".join(p.read_bytes() for p in tmp_path.glob("analytics.sqlite*"))


def test_a_name_typed_composed_finds_the_file_a_mac_named_decomposed(pipeline, tmp_path):
    """`café.mp4` in a manifest (NFC, as Excel and keyboards write it) and the file copied from a Mac, whose name
    is `cafe` + U+0301 (NFD): Linux keeps them as two names. Before, `file not found`; now the file, keyed by
    its own name, and the same row however the manifest spells it."""
    on_disk = write_faststart_mp4(tmp_path / "cafe\u0301.mp4", seconds=2)
    assert local_path("caf\u00e9.mp4", tmp_path) == local_path("cafe\u0301.mp4", tmp_path) == on_disk
    outcome = pipeline.process("caf\u00e9.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status != FAILED, outcome.video.error
    assert local_path("caf\u00e9.mp4", tmp_path / "elsewhere") == tmp_path / "elsewhere" / "caf\u00e9.mp4"


@pytest.mark.parametrize("folder, file", [("Vide\u0301os", "caf\u00e9.mp4"), ("Vid\u00e9os", "cafe\u0301.mp4")],
                         ids=["folder-decomposed-file-composed", "folder-composed-file-decomposed"])
def test_a_path_whose_folder_and_file_are_named_in_different_unicode_forms_is_found_name_by_name(
        pipeline, tmp_path, folder, file):
    """A folder a Mac made (NFD) holding a file named on Linux (NFC), or the other way round: the path is in
    neither form whole. Before, only the whole path was tried in each form: `file not found`, however the
    manifest spelled it."""
    (tmp_path / folder).mkdir()
    on_disk = write_faststart_mp4(tmp_path / folder / file, seconds=2)
    for spelling in ("Vid\u00e9os/caf\u00e9.mp4", "Vide\u0301os/cafe\u0301.mp4", "Vid\u00e9os/cafe\u0301.mp4"):
        assert local_path(spelling, tmp_path) == on_disk, spelling
        assert local_path(f"file://{quote(str(tmp_path / spelling))}", tmp_path / "elsewhere") == on_disk
    outcome = pipeline.process("Vid\u00e9os/caf\u00e9.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status != FAILED, outcome.video.error


def test_where_a_videos_first_frame_lies_on_its_timeline_is_recorded_with_it_and_with_a_copy_of_its_bytes(
        pipeline, tmp_path):
    """An MP4 whose first frame is 0.5 s into its timeline (an edit list): appearance times count from that frame,
    a browser's from 0, so the page seeks to the time plus 0.5 s (test_player_start_offset). Before, no one knew
    the 0.5 s: a click showed the frame 0.5 s before the face's."""
    from tests.analytics.test_player_start_offset import numbered_video

    late = numbered_video(tmp_path / "late.mp4", start_s=0.5, count=30)
    (tmp_path / "copy.mp4").write_bytes(late.read_bytes())
    first = pipeline.process("late.mp4", 1.0, "", "", tmp_path)
    copy = pipeline.process("copy.mp4", 1.0, "", "", tmp_path)
    assert first.video.status == DONE and seconds(first.video.start) == pytest.approx(0.5)
    assert seconds(copy.video.start) == pytest.approx(0.5), "a duplicate's row tells the same"
    store = AnalyticsStore(tmp_path / "analytics.sqlite")
    try:
        assert store.get_video(video_id=first.video.video_id).start_s == pytest.approx(0.5)
        assert all(row.start_s == pytest.approx(0.5) for row in store.rows_of_video(first.video.video_id))
    finally:
        store.close()


class FullDiskFirst(NoFaces):
    """Identity refusing the first `times` analyses on its full disk (RESOURCE_EXHAUSTED, in its words), or with
    `refusal()` (unreachable: `unavailable`)."""

    def __init__(self, times: int, refusal: Callable[[], Exception] = lambda: disk_full("AnalyzeVideo")) -> None:
        self.times = times
        self.refusal = refusal

    def AnalyzeVideo(self, frames, timeout=None):  # noqa: N802 - the stub's name
        if self.times:
            self.times -= 1
            list(frames)  # the frames were sent: identity went away while it analysed them
            raise self.refusal()
        return super().AnalyzeVideo(frames, timeout)


def counted_server(http_servers, folder: Path) -> tuple[str, list[str]]:
    """`folder` served over HTTP on loopback: its base URL, and the paths of the GETs it answered (it grows)."""
    gets: list[str] = []

    class Counting(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            gets.append(self.path)
            super().do_GET()

        def log_message(self, format, *args):  # noqa: A002 - signature of the base class
            pass

    server = http_servers(functools.partial(Counting, directory=str(folder)))
    return f"http://127.0.0.1:{server.server_port}", gets


def downloads(pipeline: VideoPipeline) -> list[Path]:
    return sorted(pipeline.scratch.path.glob("video-*"))


def served_video(http_servers, tmp_path: Path) -> tuple[Path, str, list[str]]:
    """A 2 s video `v.mp4` in a folder served over loopback: the folder, its base URL and the GETs answered."""
    served = tmp_path / "served"
    served.mkdir()
    write_faststart_mp4(served / "v.mp4", seconds=2)
    return served, *counted_server(http_servers, served)


@pytest.mark.parametrize(("refusal", "raised"), [
    (lambda: disk_full("AnalyzeVideo"), DiskFull),  # identity's disk full
    (unavailable, grpc.RpcError),  # identity restarting: given back, tried again every 1 to 30 s until it answers
], ids=["full-disk", "unreachable"])
def test_a_remote_video_whose_row_goes_back_is_not_downloaded_again_at_its_next_tries(
        pipeline, tmp_path, http_servers, refusal, raised):
    # Before, the download was removed as the row went back to the queue, and each try (every 1 to 30 s for as long
    # as the disk was full) downloaded the video again: 3 tries, 3 downloads; later a full disk kept it, but identity
    # unreachable did not. Now once, its bytes kept and checked.
    _, base, gets = served_video(http_servers, tmp_path)
    pipeline.identity = FullDiskFirst(times=2, refusal=refusal)
    for _ in range(2):
        with pytest.raises(raised):
            pipeline.process(f"{base}/v.mp4", 1.0, "", "", tmp_path)
        assert len(downloads(pipeline)) == 1, "the whole download is kept for the next try"
    outcome = pipeline.process(f"{base}/v.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status != FAILED, outcome.video.error
    assert gets == ["/v.mp4"], "downloaded once for three tries"
    assert downloads(pipeline) == [], "removed once the row has run"


def test_a_remote_video_whose_row_fails_for_good_is_not_kept(pipeline, tmp_path, http_servers):
    _, base, _ = served_video(http_servers, tmp_path)
    pipeline.identity = FullDiskFirst(times=1, refusal=lambda: FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "no"))
    outcome = pipeline.process(f"{base}/v.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status == FAILED and "INVALID_ARGUMENT" in outcome.video.error
    assert downloads(pipeline) == [], "a row failed, not given back, keeps no download"


def test_a_kept_download_whose_bytes_changed_is_fetched_again_never_used(pipeline, tmp_path, http_servers):
    served, base, gets = served_video(http_servers, tmp_path)
    pipeline.identity = FullDiskFirst(times=1)
    with pytest.raises(DiskFull):
        pipeline.process(f"{base}/v.mp4", 1.0, "", "", tmp_path)
    (kept,) = downloads(pipeline)
    kept.write_bytes(kept.read_bytes()[:1000])  # cut short, as a half-written file would be
    outcome = pipeline.process(f"{base}/v.mp4", 1.0, "", "", tmp_path)
    assert outcome.video.status != FAILED, outcome.video.error
    assert outcome.video.video_id == hashlib.sha256((served / "v.mp4").read_bytes()).hexdigest()[:16]
    assert gets == ["/v.mp4", "/v.mp4"], "fetched again"
    assert downloads(pipeline) == []


class FullAnalytics:
    """Analytics whose database's disk is full for RecordVideo (RESOURCE_EXHAUSTED, in its words, the call named as
    our channels name it); its reads answer from the real service."""

    def __init__(self, real) -> None:
        self.real = real

    def GetVideo(self, request, timeout=None):  # noqa: N802 - the stub's name
        return self.real.GetVideo(request, timeout=timeout)

    def RecordVideo(self, request, timeout=None):  # noqa: N802 - the stub's name
        error = FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "disk full: RecordVideo could not write (database "
                                                                 "or disk is full); free some space and run again")
        setattr(error, METHOD_ATTR, "/influencers.v1.AnalyticsService/RecordVideo")
        raise error


def test_a_row_given_back_on_analytics_full_database_names_the_call_that_met_it(pipeline, tmp_path):
    # Found by filling a fleet's analytics disk mid-batch: the job was said stalled on "disk full: could not write
    # (database or disk is full); free some space and run again", naming neither the service nor its store.
    video = tmp_path / "v.mp4"
    write_faststart_mp4(video, seconds=2)
    pipeline.analytics = FullAnalytics(pipeline.analytics)
    with pytest.raises(DiskFull) as err:
        pipeline.process(str(video), 1.0, "", "", tmp_path)
    assert str(err.value) == ("disk full: analytics.RecordVideo could not write (database or disk is full); free "
                              "some space and run again")
