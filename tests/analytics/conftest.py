"""Synthetic analytics data: frames with planted influencer effects and a populated store on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from influencers.v1 import analytics_pb2_grpc
from services.analytics.records import DONE, DUPLICATE, FAILED, AppearanceRow, VideoRow
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from tests.support.browser import chromium

PLANTED = {"inf_aaaa000001": 1.0, "inf_bbbb000002": -0.6, "inf_cccc000003": 0.0, "inf_dddd000004": 0.5}
SCRIPT_NAME = "<script>alert('x')</script> Bob"


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = np.zeros((32, 32, 3), np.uint8)
    image[:] = rng.integers(40, 220, 3)
    cv2.circle(image, (16, 16), 9, (230, 200, 180), -1)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


@pytest.fixture
def analytics_jpeg() -> Callable[[int], bytes]:
    """Makes a tiny distinct JPEG for a seed."""
    return _jpeg


def planted_rows(
    n_videos: int = 80, seed: int = 1, noise: float = 0.1
) -> tuple[list[VideoRow], list[AppearanceRow]]:
    """Videos whose performance is 1 + the sum of the planted effects of who is in them + noise."""
    rng = np.random.default_rng(seed)
    videos, appearances = [], []
    ids = list(PLANTED)
    for v in range(n_videos):
        video_id = f"{v:016x}"
        who = [i for i in ids if rng.random() < 0.35] or [ids[v % len(ids)]]
        perf = 1.0 + sum(PLANTED[i] for i in who) + float(rng.normal(0, noise))
        videos.append(VideoRow(url=f"https://cdn.example.com/v/{v}.mp4?a=1&b=2", video_id=video_id,
                               performance=perf, status=DONE, duration_s=20.0, faces=3 * len(who)))
        for k, i in enumerate(who):
            appearances.append(AppearanceRow(
                video_id=video_id, influencer_id=i, first_seen_s=float(k), last_seen_s=float(k + 5),
                faces=3, screen_time_s=5.0, face_quality=float(rng.uniform(0.2, 0.9)),
                best_face=_jpeg(v * 10 + k), ambiguous=False,
            ))
    return videos, appearances


@pytest.fixture
def analytics_planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(videos, appearances) frames shaped like the store's, with PLANTED effects."""
    videos, appearances = planted_rows()
    vf = pd.DataFrame([{"video_id": v.video_id, "url": v.url, "performance": v.performance,
                        "duration_s": v.duration_s} for v in videos])
    af = pd.DataFrame([{k: getattr(a, k) for k in ("video_id", "influencer_id", "first_seen_s", "last_seen_s",
                                                   "faces", "screen_time_s", "face_quality", "ambiguous")}
                       for a in appearances])
    return vf, af


def fill_store(store: AnalyticsStore, n_videos: int = 30) -> AnalyticsStore:
    """Planted videos, plus a duplicate URL, a failed URL and names (one of them hostile HTML)."""
    videos, appearances = planted_rows(n_videos=n_videos)
    for video in videos:
        store.record_video(video, [a for a in appearances if a.video_id == video.video_id])
    first = videos[0]
    store.record_video(VideoRow(url="https://mirror.example.com/same-bytes.mp4", video_id=first.video_id,
                                performance=first.performance, status=DUPLICATE))
    store.record_video(VideoRow(url="https://cdn.example.com/broken.mp4", performance=1.0, status=FAILED,
                                error="HTTP 404 while fetching"))
    store.replace_appearances({}, {"inf_aaaa000001": "Alice", "inf_bbbb000002": SCRIPT_NAME})
    return store


@pytest.fixture
def analytics_store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    """A store on disk in tmp_path, filled with fill_store()."""
    store = fill_store(AnalyticsStore(tmp_path / "analytics.sqlite"))
    yield store
    store.close()


@pytest.fixture
def analytics_empty_store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    store = AnalyticsStore(tmp_path / "empty.sqlite")
    yield store
    store.close()


@pytest.fixture(scope="module")
def analytics_module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalyticsStore]:
    """Like analytics_store, shared by the tests of one module (for servers started once)."""
    store = fill_store(AnalyticsStore(tmp_path_factory.mktemp("analytics") / "analytics.sqlite"))
    yield store
    store.close()


@pytest.fixture
def analytics_effects() -> dict[str, float]:
    """The planted effect of each influencer on performance."""
    return dict(PLANTED)


@pytest.fixture
def analytics_script_name() -> str:
    """The hostile display name given to inf_bbbb000002 in filled stores."""
    return SCRIPT_NAME


# ---- a store on disk, and the analytics service over it on a loopback port ------------------------

@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    opened = AnalyticsStore(tmp_path / "a.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def stub(store: AnalyticsStore) -> Iterator[analytics_pb2_grpc.AnalyticsServiceStub]:
    running = serve_analytics(Settings().replace(analytics_port=0), store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    wait_healthy(channel, timeout_s=10)
    yield analytics_pb2_grpc.AnalyticsServiceStub(channel)
    channel.close()
    running.stop(grace_s=0.5)


@pytest.fixture
def page() -> Iterator[object]:
    """A page of headless Chromium (tests.support.browser), 1280 x 900 px (set_viewport_size for another size),
    closed after the test; the test is skipped where Chromium is not installed."""
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})
