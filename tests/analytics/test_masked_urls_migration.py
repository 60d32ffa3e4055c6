"""Analytics rows recorded before signed links were masked (migration 0007), on SQLite and on a real PostgreSQL
server: they keep no signature, token or key, each is keyed as the same link is today, a row of the link run
again since (a second row, a duplicate of the first's video) becomes one row with it, and the link run again
after the upgrade is that row. Before: the secrets stayed in the url shown and exported, and every new run of
the link was one more row.
(The rule that merges two rows of one link, case by case: test_two_rows_of_one_link_merge_as_...)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from services.analytics.migrations.masked_urls import merged
from services.analytics.records import DONE, DUPLICATE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import HISTORY, appearances, migrate, urls, videos
from services.common.database import open_engine
from services.common.location_key import location_key
from services.common.url_secrets import links_hidden, secrets_digested, secrets_hidden

BEFORE = "0006"  # the head of the release before
RERUN = "https://b.s3.example/rerun.mp4?X-Amz-Signature=hunter2a&X-Amz-Credential=AKIAHUNTER&v=1"
ALONE = "https://cdn.example/alone.mp4?token=hunter2b"
CHANGED = "https://cdn.example/changed.mp4?sig=hunter2c"
FAILED_THEN_DONE = "https://cdn.example/late.mp4?token=hunter2d"
PATH_TOKEN = "https://cdn.example/token=hunter2e/p.mp4"
PLAIN = "https://cdn.example/plain.mp4?id=7"
LOCAL = "/videos/local.mp4"


def vid(n: int) -> str:
    return f"{n:016x}"


@pytest.fixture
def url(analytics_db_url: str) -> str:
    """conftest's: SQLite, then PostgreSQL."""
    return analytics_db_url


def old_store(url: str) -> None:
    """What the release before recorded: signed links as given (url and location), one run again since the
    masking (a duplicate row under today's key), one run again to other bytes, one failed then done."""
    engine = open_engine(url)
    seq = iter(range(1, 100))

    def row(location: str, shown: str, video_id: str, status: int, performance: float = 1.0, error: str = "",
            at: float = 10.0) -> dict:
        return dict(location=location, url=shown, video_id=video_id, performance=performance, status=status,
                    error=error, external_id="", updated_at=at, seq=next(seq), repeats=0)

    def video(video_id: str, location: str, status: int = DONE, error: str = "") -> dict:
        return dict(video_id=video_id, url=location, performance=1.0, status=status, error=error, duration_s=5.0,
                    faces=1, location=location, seq=int(video_id, 16))

    try:
        with engine.connect() as c, c.begin():
            command.upgrade(HISTORY.config(c), BEFORE)
            c.execute(urls.insert(), [
                row(RERUN, RERUN, vid(1), DONE),
                row(ALONE, ALONE, vid(2), DONE, error=f"{ALONE}: HTTP 503 (run it again later)"),
                row(CHANGED, CHANGED, vid(3), DONE),
                row(FAILED_THEN_DONE, FAILED_THEN_DONE, vid(4), FAILED, error=f"{FAILED_THEN_DONE}: HTTP 503"),
                row(PATH_TOKEN, PATH_TOKEN, vid(5), DONE), row(PLAIN, PLAIN, vid(6), DONE),
                row(LOCAL, "local.mp4", vid(7), DONE),
                # Run again since the masking: under today's key, the url shown without its secrets.
                row(secrets_digested(RERUN), secrets_hidden(RERUN), vid(1), DUPLICATE, performance=2.0, at=20.0),
                row(secrets_digested(CHANGED), secrets_hidden(CHANGED), vid(8), DONE, at=20.0),
                row(secrets_digested(FAILED_THEN_DONE), secrets_hidden(FAILED_THEN_DONE), vid(4), DONE, at=20.0),
            ])
            c.execute(videos.insert(), [
                video(vid(1), RERUN), video(vid(2), ALONE), video(vid(3), CHANGED),
                video(vid(4), FAILED_THEN_DONE, FAILED, f"{FAILED_THEN_DONE}: HTTP 503"),
                video(vid(5), PATH_TOKEN), video(vid(6), PLAIN),
                video(vid(7), LOCAL), video(vid(8), secrets_digested(CHANGED))])
            c.execute(appearances.insert(), [dict(
                video_id=vid(n), influencer_id="a" * 16, first_seen_s=0.0, last_seen_s=1.0, faces=1, screen_time_s=1.0,
                face_quality=0.9, best_face=b"", ambiguous=0, face_ref="", segments="[]") for n in (1, 3)])
    finally:
        engine.dispose()


def table(url: str, t: sa.Table) -> list[dict]:
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            return [r._asdict() for r in c.execute(sa.select(t))]
    finally:
        engine.dispose()


def test_old_rows_lose_their_secrets_and_a_row_of_the_same_link_since_becomes_one_with_them(url) -> None:
    old_store(url)
    store = AnalyticsStore(url)  # migrates
    try:
        rows = {r.url: r for r in store.list_videos()}
        assert [r.url for r in store.list_videos()] == [
            secrets_hidden(RERUN), secrets_hidden(ALONE), secrets_hidden(CHANGED), secrets_hidden(FAILED_THEN_DONE),
            "https://cdn.example/token=***/p.mp4", PLAIN, "local.mp4"]  # the first place, one row a link
        rerun = rows[secrets_hidden(RERUN)]
        assert (rerun.location, rerun.video_id, rerun.status, rerun.performance) == (
            secrets_digested(RERUN), vid(1), DONE, 2.0)  # its video's row again: done, the later score
        changed = rows[secrets_hidden(CHANGED)]
        assert (changed.video_id, changed.status) == (vid(8), DONE)
        late = rows[secrets_hidden(FAILED_THEN_DONE)]
        assert (late.video_id, late.status, late.location) == (vid(4), DONE, secrets_digested(FAILED_THEN_DONE))
        assert rows[secrets_hidden(ALONE)].error == ("https://cdn.example/alone.mp4?token=***: HTTP 503 (run it "
                                                     "again later)")
        assert rows[PLAIN].location == PLAIN and rows["local.mp4"].location == LOCAL
        assert rows["https://cdn.example/token=***/p.mp4"].location == location_key(PATH_TOKEN)  # digested (0009)
    finally:
        store.close()
    stored_videos = {v["video_id"]: v for v in table(url, videos)}
    assert sorted(stored_videos) == [vid(n) for n in (1, 2, 4, 5, 6, 7, 8)]  # the changed link's old bytes went
    assert (stored_videos[vid(1)]["location"], stored_videos[vid(1)]["performance"]) == (secrets_digested(RERUN), 2.0)
    assert [a["video_id"] for a in table(url, appearances)] == [vid(1)]
    everything = repr(table(url, urls)) + repr(table(url, videos))
    assert "hunter2" not in everything


def test_the_same_signed_link_run_after_the_upgrade_is_the_same_row(url) -> None:
    old_store(url)
    store = AnalyticsStore(url)
    try:
        before = len(store.list_videos())
        for link, video_id in ((ALONE, vid(2)), (RERUN, vid(1)), (PATH_TOKEN, vid(5))):
            # As the pipeline records a row today: the url shown without secrets, keyed by their digests.
            store.record_video(VideoRow(secrets_hidden(link), video_id, 3.0, DONE, location=secrets_digested(link)))
        rows = store.list_videos()
        assert len(rows) == before
        assert {r.url: (r.status, r.performance) for r in rows if r.video_id in (vid(1), vid(2), vid(5))} == {
            secrets_hidden(ALONE): (DONE, 3.0), secrets_hidden(RERUN): (DONE, 3.0),
            "https://cdn.example/token=***/p.mp4": (DONE, 3.0)}
    finally:
        store.close()


def test_migrating_again_changes_nothing(url) -> None:
    old_store(url)
    engine = open_engine(url)
    try:
        migrate(engine)
        once = table(url, urls), table(url, videos)
        migrate(engine)
        assert (table(url, urls), table(url, videos)) == once
    finally:
        engine.dispose()


OLD = dict(url="u", video_id=vid(1), performance=1.0, status=DONE, error="", external_id="x", updated_at=10.0,
           seq=3, repeats=2)


@pytest.mark.parametrize("new,made,expected", [
    pytest.param(dict(OLD, status=DUPLICATE, performance=2.0, updated_at=20.0, seq=9, repeats=0), True,
                 dict(OLD, performance=2.0, updated_at=20.0), id="its-own-video-again"),
    pytest.param(dict(OLD, status=DUPLICATE, performance=2.0, updated_at=20.0, seq=9, repeats=0), False,
                 dict(OLD, status=DUPLICATE, performance=2.0, updated_at=20.0), id="a-duplicate-again"),
    pytest.param(dict(OLD, status=FAILED, video_id="", error="e", updated_at=20.0, seq=9), True,
                 dict(OLD, error="e", updated_at=20.0), id="a-later-failure-keeps-the-result"),
    pytest.param(dict(OLD, video_id=vid(2), performance=5.0, updated_at=20.0, seq=9, repeats=4), True,
                 dict(OLD, video_id=vid(2), performance=5.0, updated_at=20.0, repeats=4), id="other-bytes"),
])
def test_two_rows_of_one_link_merge_as_the_stores_rules_would_have_had_them(new, made, expected) -> None:
    assert merged(OLD, new, made) == expected


@pytest.mark.parametrize("error,shown", [
    ("https://cdn/v.mp4?token=abc&id=1: HTTP 404", "https://cdn/v.mp4?token=***&id=1: HTTP 404"),
    ("same video as https://cdn/v.mp4?sig=x", "same video as https://cdn/v.mp4?sig=***"),
    ("https://cdn/token=abc/v.mp4: not a video", "https://cdn/token=***/v.mp4: not a video"),
    ("HTTPS://cdn/a?key=k:b: timed out", "HTTPS://cdn/a?key=***: timed out"),  # a colon inside the link stays in it
    ("/videos/a.mp4: file not found", "/videos/a.mp4: file not found"),
])
def test_the_links_an_old_error_names_are_shown_as_errors_name_them_today(error, shown) -> None:
    assert links_hidden(error) == shown


def test_when_the_link_gave_other_bytes_since_its_old_video_moves_to_its_next_row(url) -> None:
    # The store's rule when a row's file changes: the video it produced stands under its next row, done.
    engine = open_engine(url)
    try:
        with engine.connect() as c, c.begin():
            command.upgrade(HISTORY.config(c), BEFORE)
            c.execute(urls.insert(), [
                dict(location=CHANGED, url=CHANGED, video_id=vid(3), performance=1.0, status=DONE, error="",
                     external_id="", updated_at=1.0, seq=1, repeats=0),
                dict(location=LOCAL, url="local.mp4", video_id=vid(3), performance=4.0, status=DUPLICATE,
                     error="", external_id="", updated_at=1.0, seq=2, repeats=0),
                dict(location=secrets_digested(CHANGED), url=secrets_hidden(CHANGED), video_id=vid(8),
                     performance=1.0, status=DONE, error="", external_id="", updated_at=2.0, seq=3, repeats=0)])
            c.execute(videos.insert(), [
                dict(video_id=vid(3), url=CHANGED, performance=1.0, status=DONE, error="", duration_s=5.0, faces=1,
                     location=CHANGED, seq=1),
                dict(video_id=vid(8), url=secrets_hidden(CHANGED), performance=1.0, status=DONE, error="",
                     duration_s=5.0, faces=1, location=secrets_digested(CHANGED), seq=2)])
        migrate(engine)
    finally:
        engine.dispose()
    rows = {r["location"]: r for r in table(url, urls)}
    assert sorted(rows) == sorted([LOCAL, secrets_digested(CHANGED)])
    assert (rows[LOCAL]["status"], rows[LOCAL]["video_id"]) == (DONE, vid(3))
    assert {v["video_id"]: v["location"] for v in table(url, videos)} == {vid(3): LOCAL,
                                                                          vid(8): secrets_digested(CHANGED)}
