"""A video whose first frame lies late on its timeline (an MP4's edit list, a stream muxed after the audio, as
phones write them): appearance times count from the first frame, Chromium's timeline from 0 with that frame at
the stream's start time. In headless Chromium, a click on an appearance, and a moment opened from an
influencer's page, show the frame of that time, not one the start time earlier."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.ingest.sampling import ShotSampler
from services.ingest.video import sample_frames
from tests.analytics.test_analytics_web import serving

VIDEO = "00000000000000a1"
FPS = 10


def numbered_video(path: Path, start_s: float, count: int = 78) -> Path:
    """`count` flat grey frames at FPS, frame i of level 20 + 3 i (its number readable from any pixel), the first
    at `start_s` on the file's timeline (the MP4 muxer writes the edit list that puts it there)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"crf": "10", "g": "10", "bf": "0"}
        stream.time_base = Fraction(1, FPS)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 + 3 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(start_s * FPS) + i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


# Run in every page before its scripts: each seek of the player records where it landed, then pauses it (a frame
# read later would have played on). The frame shown there is read once the landing is complete (landing below).
SEEKS = """window.seeks = [];
document.addEventListener('seeked', event => { event.target.pause(); window.seeks.push(event.target.currentTime); },
                          true);"""
# The number of the frame the player holds now, read back through a canvas (its level, 20 + 3 i).
SHOWN = """(() => { const v = document.getElementById('player');
  const c = document.createElement('canvas'); c.width = 64; c.height = 48;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 48);
  return [v.currentTime, Math.round((g.getImageData(32, 24, 1, 1).data[1] - 20) / 3)]; })()"""


@pytest.mark.parametrize("start_s", [0.5, 3.0])
def test_a_click_on_an_appearance_of_a_video_starting_late_shows_the_frame_of_that_time(
        tmp_path: Path, start_s: float, page: Page) -> None:
    clip = numbered_video(tmp_path / "late.mp4", start_s)
    info, frames = sample_frames(clip, ShotSampler(1.0))
    sampled = {round(f.timestamp_s, 2): f for f in frames}
    assert info.start_s == pytest.approx(start_s), "ingest measures where the first frame lies"
    assert round((int(sampled[2.0].bgr[24, 32, 1]) - 20) / 3) == 20, "ingest's 2.0 s is frame 20"
    store = AnalyticsStore(tmp_path / "a.sqlite")
    store.record_video(VideoRow("late.mp4", VIDEO, 1.0, DONE, duration_s=info.duration_s, location=str(clip),
                                start_s=info.start_s),
                       [AppearanceRow(VIDEO, "inf_aaaa000001", 2.0, 7.7, 5, 2.2, 0.9, b"\xff\xd8jpeg",
                                      segments=((2.0, 3.0, 2.5), (4.0, 5.0, 4.5), (7.5, 7.7, 7.6)))])
    assert store.get_video(video_id=VIDEO).start_s == pytest.approx(start_s), "the store keeps it"
    landed = "window.seeks.length && window.seeks[window.seeks.length - 1]"

    def landing(page, moment: float) -> tuple[float, int]:
        """Where the player's last seek landed and the frame it holds there, read once a seek has landed at `moment`
        (s from the first frame; the page may seek more than once: Chromium learns a late MP4's end as it reads
        there), the player paused and holding the picture of that time (readyState HAVE_CURRENT_DATA, no seek under
        way). Was: the frame read two animation frames after each seek, which under load could be the one before;
        and a wait of 20 s, past which the last landing was taken as it was."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function(f"() => {{ const v = document.getElementById('player'), l = {landed};"
                                   f" return l !== 0 && Math.abs(l - {start_s + moment}) < 0.1"
                                   " && v.readyState >= 2 && !v.seeking && v.paused }", timeout=60_000)
        except PlaywrightTimeout:
            state = page.evaluate("(() => { const v = document.getElementById('player'); return [window.seeks,"
                                  " v.currentTime, v.readyState, v.seeking, v.paused, v.duration]; })()")
            raise AssertionError(f"no landing at {moment} s: seeks, time, readyState, seeking, paused, duration "
                                 f"{state}") from None
        return page.evaluate(SHOWN)

    with serving(create_app(store, {"ALLOWED_ROOT": str(tmp_path)})) as url:
        page.add_init_script(SEEKS)
        # Opened from the influencer's timeline (its second bar, ?t=4.00; its last, ?t=7.50, within the last
        # start_s seconds of the 7.8 s of frames, past the duration Chromium states): the player starts there.
        for moment, number in ((4.0, 40), (7.5, 75)):
            page.goto(f"{url}/influencer/inf_aaaa000001", wait_until="domcontentloaded")
            page.locator(f"a[href='/video/{VIDEO}?t={moment:.2f}']").click(position={"x": 2, "y": 10})
            page.wait_for_url(f"**/video/{VIDEO}?t={moment:.2f}", timeout=120_000)
            at, frame = landing(page, moment)
            assert at == pytest.approx(start_s + moment, abs=0.1) and abs(frame - number) <= 1, (moment, at, frame)
        # A click on the first-seen time (2.00) on the video page.
        page.evaluate("window.seeks = []")
        page.locator("button.seek[data-seek='2.00']").click()
        at, frame = landing(page, 2.0)
        assert at == pytest.approx(start_s + 2.0, abs=0.1) and abs(frame - 20) <= 1, (at, frame)
        # The last bar on a freshly loaded video page, by key (from the bar's start: 7.50).
        page.goto(f"{url}/video/{VIDEO}", wait_until="domcontentloaded")
        page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=120_000)
        page.evaluate("window.seeks = []")
        page.locator("rect.seekable[data-seek='7.50']").press("Enter")
        at, frame = landing(page, 7.5)
        assert at == pytest.approx(start_s + 7.5, abs=0.1) and abs(frame - 75) <= 1, (at, frame)
    store.close()


@pytest.mark.parametrize("start_s", [-0.5, float("nan"), float("inf")])
def test_a_start_that_is_no_time_on_a_timeline_is_refused_naming_it(tmp_path: Path, start_s: float) -> None:
    # The page adds it to every time it seeks the player to: a NaN made every seek NaN.
    store = AnalyticsStore(tmp_path / "a.sqlite")
    try:
        with pytest.raises(ValueError, match=r"late.mp4: start .* s is out of range \(0 to 10,000,000 s\)"):
            store.record_video(VideoRow("late.mp4", VIDEO, 1.0, DONE, start_s=start_s))
        assert store.get_video(video_id=VIDEO) is None
    finally:
        store.close()
