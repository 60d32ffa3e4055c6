"""Timelines: segments built from the sampled frames a person was seen in, and their bars on the page."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.analytics.timeline import MIN_BAR, WIDTH, timeline
from services.identity.appearances import AppearanceOut, appearances_of
from services.identity.facestore import FacePoint, FaceRecord
from services.identity.segments import (
    FALLBACK_GAP_S,
    Segment,
    Sighting,
    from_flat,
    merge_segments,
    seconds_on_screen,
    segments_of,
    to_flat,
)


def seen(*times: float, span: float = 1.0, quality: float = 0.5) -> list[Sighting]:
    return [Sighting(t, span, quality) for t in times]


def test_consecutive_sampled_frames_make_one_segment_ending_after_the_last_frames_span() -> None:
    assert segments_of(seen(3.0, 4.0, 5.0)) == [Segment(3.0, 6.0, 3.0, 0.5)]


def test_one_missed_sampled_frame_keeps_one_segment_and_two_missed_start_a_new_one() -> None:
    assert len(segments_of(seen(0.0, 1.0, 3.0))) == 1
    assert [(s.start_s, s.end_s) for s in segments_of(seen(0.0, 1.0, 4.0, 5.0))] == [(0.0, 2.0), (4.0, 6.0)]


def test_the_gap_follows_the_sampling_interval_of_the_video() -> None:
    assert len(segments_of(seen(0.0, 1.0, 2.0, span=0.5))) == 1
    assert len(segments_of(seen(0.0, 0.5, 2.0, span=0.5))) == 2


def test_without_a_known_interval_a_step_over_one_and_a_half_seconds_splits() -> None:
    assert len(segments_of(seen(0.0, FALLBACK_GAP_S, span=0.0))) == 1
    assert [(s.start_s, s.end_s) for s in segments_of(seen(0.0, 1.6, span=0.0))] == [(0.0, 0.0), (1.6, 1.6)]


def test_each_segment_keeps_the_time_of_its_best_face_in_any_input_order() -> None:
    sightings = [Sighting(12.0, 1.0, 0.9), Sighting(10.0, 1.0, 0.2), Sighting(11.0, 1.0, 0.4),
                 Sighting(1.0, 1.0, 0.3), Sighting(0.0, 1.0, 0.8)]
    assert [(s.start_s, s.best_s) for s in segments_of(sightings)] == [(0.0, 0.0), (10.0, 12.0)]


def test_no_sightings_make_no_segments() -> None:
    assert segments_of([]) == []


def test_two_people_found_one_influencer_join_overlapping_segments_and_keep_the_better_face() -> None:
    a = [Segment(0.0, 4.0, 1.0, 0.3), Segment(10.0, 12.0, 11.0, 0.5)]
    b = [Segment(3.0, 6.0, 5.0, 0.9)]
    assert merge_segments(a, b) == [Segment(0.0, 6.0, 5.0, 0.9), Segment(10.0, 12.0, 11.0, 0.5)]


def test_segments_survive_the_flat_form_a_face_payload_keeps() -> None:
    segments = [Segment(0.0, 4.0, 1.0, 0.3), Segment(10.0, 12.5, 11.0, 0.5)]
    assert from_flat(to_flat(segments)) == segments
    assert from_flat([1.0, 2.0, 1.5]) == []


def test_bars_sit_in_proportion_to_the_videos_duration() -> None:
    line = timeline([(0.0, 5.0, 2.0), (15.0, 20.0, 18.0)], duration_s=20.0)
    assert [(b.x, b.width, b.best_x) for b in line.bars] == [(0.0, 250.0, 100.0), (750.0, 250.0, 900.0)]
    assert line.duration_s == 20.0 and not line.approximate


def test_a_one_frame_segment_is_at_least_the_minimum_width_and_stays_on_the_track() -> None:
    line = timeline([(10.0, 10.0, 10.0)], duration_s=10.0)
    (bar,) = line.bars
    assert bar.width == MIN_BAR
    assert bar.x + bar.width <= WIDTH


def test_an_unknown_or_too_short_duration_becomes_the_latest_segment_end() -> None:
    assert timeline([(0.0, 8.0, 1.0)], duration_s=0.0).duration_s == 8.0
    assert timeline([(0.0, 8.0, 1.0)], duration_s=math.nan).duration_s == 8.0
    assert timeline([(0.0, 8.0, 1.0)], duration_s=4.0).bars[0].width == WIDTH


def test_times_outside_the_video_are_clipped_and_the_best_face_stays_in_its_bar() -> None:
    (bar,) = timeline([(-2.0, 4.0, 9.0)], duration_s=10.0).bars
    assert (bar.start_s, bar.end_s, bar.best_s) == (0.0, 4.0, 4.0)


def test_without_segments_one_approximate_bar_runs_from_first_to_last_seen() -> None:
    line = timeline([], duration_s=10.0, first_seen_s=2.0, last_seen_s=6.0)
    assert line.approximate
    assert [(b.x, b.width, b.best_x) for b in line.bars] == [(200.0, 400.0, 400.0)]


@pytest.mark.parametrize("segment", [(math.nan, 1.0, 0.5), (0.0, math.inf, 0.5)])
def test_a_segment_with_a_time_that_is_not_finite_is_left_out(segment: tuple[float, float, float]) -> None:
    assert timeline([segment, (1.0, 2.0, 1.5)], duration_s=10.0).bars[0].start_s == 1.0


def test_everything_at_zero_seconds_still_draws_a_bar() -> None:
    (bar,) = timeline([(0.0, 0.0, 0.0)], duration_s=0.0).bars
    assert (bar.x, bar.width) == (0.0, MIN_BAR)


def face(person: int, influencer: str, t: float, quality: float, segments: list[float] | None = None,
         reference: int = 0) -> FacePoint:
    record = FaceRecord(video_id="v", person=person, influencer_id=influencer, timestamp_s=t, quality=quality,
                        first_seen_s=0.0, last_seen_s=20.0, faces=3, best_quality=quality, crop=f"c{person}",
                        segments=segments or [], reference=reference)
    return FacePoint(f"p{person}-{t}", np.zeros(0, np.float32), record)


def test_an_appearance_carries_the_segments_analysis_kept_on_its_faces() -> None:
    kept = to_flat([Segment(0.0, 6.0, 2.0, 0.8), Segment(12.0, 20.0, 15.0, 0.7)])
    (app,) = appearances_of([face(0, "inf_a", 2.0, 0.8, kept), face(0, "inf_a", 15.0, 0.7, kept)])
    assert [(s.start_s, s.end_s, s.best_s) for s in app.segments] == [(0.0, 6.0, 2.0), (12.0, 20.0, 15.0)]


def test_faces_stored_before_segments_were_kept_give_none_rather_than_blips_of_their_few_encoded_faces() -> None:
    (app,) = appearances_of([face(0, "inf_a", 1.0, 0.4), face(0, "inf_a", 5.0, 0.9), face(0, "inf_a", 9.0, 0.5)])
    assert app.segments == []
    assert (app.first_seen_s, app.last_seen_s) == (0.0, 20.0), "the page draws first to last seen instead"


def test_two_people_of_one_influencer_in_a_video_join_their_segments() -> None:
    a = to_flat([Segment(0.0, 4.0, 1.0, 0.3)])
    b = to_flat([Segment(8.0, 10.0, 9.0, 0.9)])
    (app,) = appearances_of([face(0, "inf_a", 1.0, 0.3, a), face(1, "inf_a", 9.0, 0.9, b)])
    assert [(s.start_s, s.end_s) for s in app.segments] == [(0.0, 4.0), (8.0, 10.0)]


def test_a_reference_photo_adds_no_segment() -> None:
    kept = to_flat([Segment(1.0, 2.0, 1.0, 0.5)])
    photo = to_flat([Segment(30.0, 30.0, 30.0, 0.9)])
    (app,) = appearances_of([face(0, "inf_a", 1.0, 0.5, kept), face(1, "inf_a", 30.0, 0.9, photo, reference=1)])
    assert [(s.start_s, s.end_s) for s in app.segments] == [(1.0, 2.0)]


@pytest.mark.parametrize(("sightings", "seconds"), [
    (seen(0.0, 1.0, 2.0), 3.0),  # frames one after another: their spans
    (seen(0.0, 0.0, 1.0), 2.0),  # two frames at 0 s (equal timestamps): was 3.0
    ([Sighting(5.0, 1.0, 0.5), Sighting(4.0, 2.0, 0.5)], 2.0),  # out of order, overlapping: 4 .. 6 s, was 3.0
    ([Sighting(1.0, 0.0, 0.5), Sighting(1.0, 1.0, 0.5)], 1.0),  # a frame without span at the time of another
    ([Sighting(0.0, -1.0, 0.5)], 0.0),
    ([], 0.0),
])
def test_time_on_screen_counts_frames_of_one_time_or_overlapping_spans_once(sightings, seconds) -> None:
    assert seconds_on_screen(sightings) == pytest.approx(seconds)



def test_two_people_merged_in_one_video_count_the_time_they_were_on_screen_together_once():
    # A mirror or picture in picture: both on screen 0-4 s, 4 s each; one person for the analyst's merge.
    def seen(screen_s: float, *segments: Segment) -> AppearanceOut:
        return AppearanceOut("inf_a", 0.0, 4.0, 4, screen_s, "ref", 0.5, segments=list(segments))

    one = seen(4.0, Segment(0.0, 4.0, 1.0, 0.5))
    one.absorb(seen(4.0, Segment(0.0, 4.0, 2.0, 0.7)))
    assert one.screen_time_s == 4.0, "was 8 s in a 4 s video"
    apart = seen(2.0, Segment(0.0, 2.0, 1.0, 0.5))
    apart.absorb(seen(3.0, Segment(5.0, 8.0, 6.0, 0.7)))
    assert apart.screen_time_s == 5.0, "people seen at other times still add up"
    legacy = seen(2.0)
    legacy.absorb(seen(3.0))
    assert legacy.screen_time_s == 5.0, "faces stored before segments were kept: nothing to cap by"
