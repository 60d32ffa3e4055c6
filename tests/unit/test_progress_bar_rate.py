"""The progress bar of `influencers run` and `ingest` states its rate as videos a second, slow or fast: below one
a second tqdm's default turned it round into seconds a video, printed "1.61s/ video"."""

from __future__ import annotations

from tqdm import tqdm

from influencers.cli.jobs import BAR_FORMAT


def bar(n: int, elapsed_s: float, rate: float | None) -> str:
    return tqdm.format_meter(n, 205, elapsed_s, rate=rate, unit=" video", prefix="ingest", ncols=100,
                             bar_format=BAR_FORMAT)


def test_a_slow_job_reads_as_videos_a_second_not_seconds_a_video() -> None:
    line = bar(56, 61, 1 / 1.61)
    assert " 56/205 [01:01<03:59, " in line and line.endswith(" 0.62 video/s]"), line
    assert "s/ video" not in line


def test_a_fast_job_and_one_not_started_read_as_before() -> None:
    assert bar(56, 20, 2.8).endswith(" 56/205 [00:20<00:53,  2.80 video/s]")
    assert bar(0, 0, None).endswith(" 0/205 [00:00<?, ? video/s]")
