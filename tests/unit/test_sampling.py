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
