import numpy as np

from services.ingest.sampling import ShotSampler


def _frames(levels, fps=25):
    for k, level in enumerate(levels):
        yield k / fps, np.full((8, 8), level, np.float32)


def test_first_frame_starts_a_shot_and_is_sampled():
    d = ShotSampler(1.0).feed(0.0, np.zeros((8, 8), np.float32))
    assert d.sample and d.cut and d.shot == 0


def test_static_shot_is_sampled_once_per_interval():
    sampler = ShotSampler(1.0)
    picks = [t for t, thumb in _frames([100] * 100) if sampler.feed(t, thumb).sample]
    assert picks == [0.0, 1.0, 2.0, 3.0]


def test_hard_cut_starts_a_new_shot_and_is_sampled_at_once():
    sampler = ShotSampler(1.0)
    decisions = [(t, sampler.feed(t, thumb)) for t, thumb in _frames([60] * 30 + [180] * 30)]
    cuts = [t for t, d in decisions if d.cut]
    assert cuts == [0.0, 30 / 25]
    assert decisions[-1][1].shot == 1


def test_gradual_change_is_not_a_cut():
    sampler = ShotSampler(1.0)
    cuts = [t for t, thumb in _frames(np.linspace(40, 200, 100)) if sampler.feed(t, thumb).cut]
    assert cuts == [0.0]


def _strobe(seconds=10.0, fps=25):
    return _frames([255 * (k % 2) for k in range(int(seconds * fps))], fps)


def test_a_strobing_video_is_sampled_about_once_per_interval_not_once_per_frame():
    sampler = ShotSampler(1.0)
    decisions = [(t, sampler.feed(t, thumb)) for t, thumb in _strobe(10.0)]
    picks = [t for t, d in decisions if d.sample]
    assert len(picks) <= 15
    assert picks[-1] >= 8.5  # the whole video is still covered


def test_no_shot_is_shorter_than_the_minimum_shot_length():
    sampler = ShotSampler(1.0)
    starts = [t for t, thumb in _strobe(4.0) if sampler.feed(t, thumb).cut]
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= sampler.min_shot_s - 1e-9


def test_a_cut_inside_a_short_shot_still_starts_a_shot_once_the_minimum_has_passed():
    # A 3-frame shot (0.12 s) between two long ones: the second cut is not lost, only moved to the first
    # frame 0.25 s into the short shot.
    sampler = ShotSampler(1.0, min_shot_s=0.25)
    cuts = [t for t, thumb in _frames([60] * 25 + [180] * 3 + [20] * 50) if sampler.feed(t, thumb).cut]
    assert cuts == [0.0, 1.0, 1.28]


def test_a_video_with_a_cut_every_second_and_a_half_is_sampled_as_without_the_budget():
    levels = [[40, 200][(k // 38) % 2] for k in range(25 * 30)]  # a cut every 1.52 s for 30 s
    limited, free = ShotSampler(1.0), ShotSampler(1.0, burst=10_000)
    picks = [t for t, thumb in _frames(levels) if limited.feed(t, thumb).sample]
    assert picks == [t for t, thumb in _frames(levels) if free.feed(t, thumb).sample]
    assert len(picks) == 40  # every shot's first frame and one a second after it


def test_shots_that_start_when_the_budget_is_spent_are_sampled_when_it_allows():
    levels = [[40, 200][(k // 10) % 2] for k in range(25 * 10)]  # a cut every 0.4 s
    sampler = ShotSampler(1.0, burst=3)
    decisions = [(t, sampler.feed(t, thumb)) for t, thumb in _frames(levels)]
    picks = [(t, d.shot) for t, d in decisions if d.sample]
    assert len(picks) <= 3 + 10
    assert len({shot for _, shot in picks}) == len(picks)  # every sample is a new shot's first
    assert all(b - a <= 1.0 + 1e-9 for (a, _), (b, _) in zip(picks, picks[1:], strict=False))


def test_a_change_of_thumbnail_size_starts_a_new_shot_at_once():
    sampler = ShotSampler(1.0)
    sampler.feed(0.0, np.zeros((8, 8), np.float32))
    d = sampler.feed(0.04, np.zeros((6, 10), np.float32))
    assert d.cut and d.sample and d.shot == 1
