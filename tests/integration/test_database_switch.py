"""A data dir used with SQLite, then started with INFLUENCERS_DATABASE_URL: nothing copies its stores into that
database, so each store that held data says at start that its file is left behind and not read (it started empty
in silence: the page showed nothing and the audit trail was gone). A second SQLite file stands in for
PostgreSQL: the check is the same for any URL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.database import left_behind
from services.common.settings import Settings
from services.identity.feed import ChangeFeed

VIDEO = "0123456789abcdef"
FEED_LOG = "services.identity.feed"  # the logger that says the feed's file is left behind


def test_analytics_on_a_new_database_url_says_its_data_dirs_file_with_videos_is_not_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = AnalyticsStore.open(Settings(data_dir=tmp_path))
    store.record_video(VideoRow("videos/v1.mp4", VIDEO, 1.5, DONE, duration_s=5.0), [])
    store.close()
    elsewhere = f"sqlite:///{tmp_path / 'shared' / 'one.sqlite3'}"
    with caplog.at_level(logging.WARNING):
        store = AnalyticsStore.open(Settings(data_dir=tmp_path, database_url=elsewhere))
    assert store.videos_by_id([VIDEO]) == {}  # what the warning is about: the new database holds nothing
    store.close()
    said = [r.getMessage() for r in caplog.records]
    assert any(str(tmp_path / "analytics.sqlite3") in m and "Moving to PostgreSQL" in m for m in said), said


def test_the_change_feed_on_a_new_database_url_says_so_too_and_a_fresh_data_dir_says_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The feed's own records only: a thread another test left running may log a warning of its own meanwhile.
    elsewhere = f"sqlite:///{tmp_path / 'shared' / 'one.sqlite3'}"
    with caplog.at_level(logging.WARNING, logger=FEED_LOG):
        ChangeFeed.open(elsewhere, tmp_path / "fresh").close()
    assert not [r for r in caplog.records if r.name == FEED_LOG]
    ChangeFeed.open("", tmp_path / "used").close()
    with caplog.at_level(logging.WARNING, logger=FEED_LOG):
        ChangeFeed.open(elsewhere, tmp_path / "used").close()
    assert [str(tmp_path / "used" / "identity" / "feed.sqlite3") in r.getMessage() for r in caplog.records
            if r.name == FEED_LOG] == [True]


def test_no_warning_without_a_url_or_when_the_url_names_that_very_file(tmp_path: Path) -> None:
    file = tmp_path / "analytics.sqlite3"
    file.write_bytes(b"SQLite format 3\x00" + bytes(100))
    assert left_behind("", file, "analytics") == ""
    assert left_behind(f"sqlite:///{file}", file, "analytics") == ""
    assert left_behind("postgresql://u:secret@db:5432/x", tmp_path / "none.sqlite3", "analytics") == ""
    said = left_behind("postgresql://u:secret@db:5432/x", file, "analytics")
    assert str(file) in said and "secret" not in said and "***" in said
