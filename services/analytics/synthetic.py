"""Synthetic store rows with planted influencer effects, for demos, notebooks and benchmarks.

A video's performance is `base` + the sum of the planted effects of the influencers in it + Gaussian noise.
Influencer popularity follows a Zipf-like law, so a few appear in many videos and most in few. Influencer 0
is a star (the largest effect) who brings influencer 1, a sidekick with no effect of their own, into
`sidekick` of their videos: a plain average flatters the sidekick, an attribution model should not.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from services.analytics.records import DONE, AppearanceRow, VideoRow


@dataclass(frozen=True)
class SyntheticData:
    """`appearances` by video id; `effects`: the planted effect of each influencer id on performance."""

    videos: list[VideoRow]
    appearances: dict[str, list[AppearanceRow]]
    effects: dict[str, float]
    names: dict[str, str]

    def items(self) -> list[tuple[VideoRow, list[AppearanceRow]]]:
        """(video, its appearances) pairs, as AnalyticsStore.record_many takes them."""
        return [(v, self.appearances.get(v.video_id, [])) for v in self.videos]


def planted_data(
    n_videos: int = 300,
    n_influencers: int = 12,
    seed: int = 0,
    per_video: float = 1.5,
    effect_sd: float = 0.5,
    noise_sd: float = 0.5,
    base: float = 1.0,
    sidekick: float = 0.7,
) -> SyntheticData:
    """Rows of `n_videos` DONE videos of 20 s; each has Poisson(`per_video`) influencer draws (repeats
    merged, so some videos have nobody). Deterministic for a seed."""
    if n_influencers < 2:
        raise ValueError("need at least two influencers (a star and a sidekick)")
    rng = np.random.default_rng(seed)
    ids = [f"inf_{k:06d}{seed % 10_000:04d}" for k in range(n_influencers)]  # the page's id pattern
    effects = rng.normal(0.0, effect_sd, n_influencers)
    effects[0], effects[1] = 3.0 * effect_sd, 0.0
    popularity = 1.0 / np.arange(1, n_influencers + 1) ** 0.9
    popularity[[0, 1]] = popularity[[2, 3]]  # the star pair is popular but not the most common
    popularity /= popularity.sum()

    video_of = np.repeat(np.arange(n_videos), rng.poisson(per_video, n_videos))
    person = rng.choice(n_influencers, size=len(video_of), p=popularity)
    with_star = np.unique(video_of[person == 0])
    brought = with_star[rng.random(len(with_star)) < sidekick]
    pairs = np.unique(np.concatenate([video_of, brought]) * n_influencers
                      + np.concatenate([person, np.ones(len(brought), dtype=person.dtype)]))
    pair_video, pair_person = pairs // n_influencers, pairs % n_influencers
    performance = (base + np.bincount(pair_video, weights=effects[pair_person], minlength=n_videos)
                   + rng.normal(0.0, noise_sd, n_videos))

    faces = [_face_jpeg(rng) for _ in range(n_influencers)]
    first = rng.uniform(0.0, 15.0, len(pairs))
    span = rng.uniform(1.0, 5.0, len(pairs))
    quality = rng.uniform(0.2, 0.95, len(pairs))
    video_ids = [f"{seed % 65536:04x}{v:012x}" for v in range(n_videos)]
    appearances: dict[str, list[AppearanceRow]] = {}
    for k, (v, p) in enumerate(zip(pair_video.tolist(), pair_person.tolist(), strict=True)):
        appearances.setdefault(video_ids[v], []).append(AppearanceRow(
            video_id=video_ids[v], influencer_id=ids[p], first_seen_s=float(first[k]),
            last_seen_s=float(first[k] + span[k]), faces=int(span[k]) + 1, screen_time_s=float(span[k]),
            face_quality=float(quality[k]), best_face=faces[p],
        ))
    videos = [
        VideoRow(url=f"https://cdn.example.com/v/{v}.mp4", video_id=video_ids[v],
                 performance=float(performance[v]), status=DONE, duration_s=20.0,
                 faces=sum(a.faces for a in appearances.get(video_ids[v], [])))
        for v in range(n_videos)
    ]
    names = {ids[0]: "Star", ids[1]: "Sidekick"} | {i: f"Creator {k}" for k, i in enumerate(ids) if k > 1}
    return SyntheticData(videos, appearances, dict(zip(ids, effects.tolist(), strict=True)), names)


def _face_jpeg(rng: np.random.Generator) -> bytes:
    """A tiny distinct 48x48 JPEG standing in for a face crop."""
    image = np.full((48, 48, 3), rng.integers(40, 220, 3), np.uint8)
    cv2.circle(image, (24, 24), 14, tuple(int(c) for c in rng.integers(120, 255, 3)), -1)
    ok, buf = cv2.imencode(".jpg", image)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
