"""Ingest's repost signatures in SQL (services/ingest/repost_store.py), on SQLite and PostgreSQL: a video is
found again by a repost's keys, never by itself, and is gone once forgotten."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.database import open_engine
from services.ingest.job_store import migrate
from services.ingest.repost_store import RepostStore
from services.ingest.signature import GRID, Signature, is_repost


def look(seed: int, frames: int = 4, duration: float = 4.0) -> Signature:
    prints = np.random.default_rng(seed).integers(0, 255, (frames, GRID * GRID), dtype=np.uint8)
    return Signature(duration, tuple(float(k) for k in range(frames)), prints)


@pytest.fixture(params=["sqlite", "postgresql"])
def reposts(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_url")
    engine = open_engine(url)
    migrate(engine)
    yield RepostStore(engine)
    engine.dispose()


def test_an_analysed_video_is_found_by_its_repost_and_not_by_itself_and_not_once_forgotten(reposts) -> None:
    reposts.remember("aaaa", look(1))
    reposts.remember("bbbb", look(2, duration=9.0, frames=9))
    found = reposts.candidates(look(1), excluding="cccc")
    assert [v for v, _ in found] == ["aaaa"] and is_repost(found[0][1], look(1))
    assert reposts.candidates(look(1), excluding="aaaa") == []
    reposts.remember("aaaa", look(1))  # again: replaced, not doubled
    assert [v for v, _ in reposts.candidates(look(1))] == ["aaaa"]
    reposts.forget("aaaa")
    assert reposts.candidates(look(1)) == []
