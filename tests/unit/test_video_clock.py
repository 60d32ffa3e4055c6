"""Frame times from timestamps that may be missing, damaged or absurd: always finite, never decreasing."""

import math
from fractions import Fraction

import pytest

from services.ingest.video import DEFAULT_FPS, MAX_FPS, FrameClock, sane_fps

MS = Fraction(1, 1000)


def times(clock, pts_list, packets=1):
    return [round(clock.at(pts, packets), 3) for pts in pts_list]


def test_sane_timestamps_are_used_as_they_are():
    assert times(FrameClock(25.0, MS, 0), [0, 40, 80, 120]) == [0.0, 0.04, 0.08, 0.12]


def test_the_stream_start_is_time_zero():
    assert times(FrameClock(25.0, MS, 5000), [5000, 5040]) == [0.0, 0.04]


def test_missing_timestamps_count_one_frame_per_demuxed_packet():
    clock = FrameClock(25.0, MS, None)
    assert [round(clock.at(None, n), 3) for n in (3, 1, 2, 1)] == [0.0, 0.04, 0.12, 0.16]


def test_timestamps_that_restart_at_a_joined_segment_follow_on():
    part = [40 * i for i in range(10)]  # 0.4 s: further back than frames shown out of order lie
    t = times(FrameClock(25.0, MS, 0), part + part)
    assert t == [round(0.04 * i, 2) for i in range(20)]


def test_a_huge_jump_ahead_is_a_discontinuity_not_hours_of_video():
    t = times(FrameClock(25.0, MS, 0), [0, 40, 2**62, 2**62 + 40])
    assert t == [0.0, 0.04, 0.08, 0.12]


def test_a_step_back_past_reordering_follows_on_and_a_repeated_timestamp_keeps_its_time():
    assert times(FrameClock(25.0, MS, 0), [0, 800, 400, 440]) == [0.0, 0.8, 0.84, 0.88]
    assert times(FrameClock(25.0, MS, 0), [0, 40, 40, 80]) == [0.0, 0.04, 0.04, 0.08]


def test_timestamps_that_never_advance_count_one_frame_each_after_the_one_repeat_a_join_may_have():
    assert times(FrameClock(25.0, MS, 0), [0, 0, 0, 0, 0]) == [0.0, 0.0, 0.04, 0.08, 0.12]
    assert times(FrameClock(25.0, Fraction(1, 15360), 0), [0, 1, 2, 3]) == [0.0, 0.0, 0.04, 0.08]
    assert times(FrameClock(25.0, MS, 0), [0, 40, 40, 40, 80, 120]) == [0.0, 0.04, 0.04, 0.08, 0.12, 0.16]


def test_frames_a_millisecond_apart_keep_their_times():
    assert times(FrameClock(MAX_FPS, MS, 0), [0, 1, 2, 3]) == [0.0, 0.001, 0.002, 0.003]  # 1,000 fps


def test_negative_timestamps_and_a_far_first_timestamp_start_at_zero():
    assert times(FrameClock(25.0, MS, 0), [-10**15, -10**15 + 40]) == [0.0, 0.04]
    assert times(FrameClock(25.0, MS, 0), [10**12, 10**12 + 40]) == [0.0, 0.04]


@pytest.mark.parametrize("time_base", [None, Fraction(0, 1), Fraction(-1, 25)])
def test_an_unusable_time_base_falls_back_to_counting_packets(time_base):
    assert times(FrameClock(25.0, time_base, 0), [0, 1, 2]) == [0.0, 0.04, 0.08]


def test_an_absurd_time_base_still_gives_finite_increasing_times():
    t = times(FrameClock(25.0, Fraction(10**300, 1), 0), [0, 1, 2, 3])
    assert all(math.isfinite(x) for x in t) and t == sorted(t)


@pytest.mark.parametrize(("rates", "fps"), [
    ((Fraction(30000, 1001), None), 30000 / 1001),
    ((None, Fraction(24, 1)), 24.0),
    ((Fraction(0, 1), None), DEFAULT_FPS),
    ((float("nan"), float("inf")), DEFAULT_FPS),
    ((-5, None), DEFAULT_FPS),
    ((Fraction(1, 1000), None), 1.0),
    ((10**9, None), MAX_FPS),
    ((Fraction(2764800, 691), Fraction(30, 1)), 30.0),
    (("junk", None), DEFAULT_FPS),
])
def test_frame_rates_are_made_sane(rates, fps):
    assert sane_fps(*rates) == pytest.approx(fps)


def test_a_jump_ahead_within_the_gap_a_container_allows_is_a_pause_kept_as_it_is():
    t = times(FrameClock(25.0, MS, 0, max_gap_s=60.0), [0, 40, 30_040, 30_080, 10**12])
    assert t == [0.0, 0.04, 30.04, 30.08, 30.12]  # a pause of 30 s kept; past 60 s still a discontinuity


def test_frames_out_of_order_by_a_few_ticks_keep_the_latest_time_and_add_none():
    """B-frames of an MP4 of timescale 10 (25 fps frames a tick apart): 0 2 1 3 2 6 5 7 4 ... as decoded."""
    ticks = [0, 2, 1, 3, 2, 6, 5, 7, 4, 10, 9, 11, 8]
    t = times(FrameClock(10.0, Fraction(1, 10), 0), ticks)
    assert t == [0.0, 0.2, 0.2, 0.3, 0.3, 0.6, 0.6, 0.7, 0.7, 1.0, 1.0, 1.1, 1.1]


def test_a_jump_ahead_to_where_the_last_frame_says_it_ends_is_that_frame_held_not_a_join():
    """A slideshow of a picture every 20 s in MPEG-TS (each frame states 20 s): each picture at its time. The same
    20 s jump after frames stating 40 ms is a join, counted as one frame."""
    clock = FrameClock(1.0, MS, 0)
    assert [round(clock.at(pts, 1, 20_000), 3) for pts in (0, 20_000, 40_000, 60_000)] == [0.0, 20.0, 40.0, 60.0]
    clock = FrameClock(25.0, MS, 0)
    assert [round(clock.at(pts, 1, 40), 3) for pts in (0, 40, 20_040, 20_080)] == [0.0, 0.04, 0.08, 0.12]
