"""A row's key (its location) keeps no secret of its link, on SQLite and on a real PostgreSQL server: a token in
the path is digested like the query's signature, a user name and password hidden, in what gRPC's GetVideo and
ListVideos return and in the database file, whoever records the row; the same link keys the same row, and links
differing in a secret stay two rows. A store of the release before (migration 0009) is keyed so at its first
start. Before, the key kept the path's token and the password as given (hidden only where a row is shown)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from influencers.v1 import analytics_pb2, common_pb2
from services.analytics.records import DONE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import urls, videos
from services.common.database import open_engine
from services.common.location_key import location_key
from services.common.url_secrets import path_link_keyed, secrets_digested, secrets_hidden
from tests.support.old_stores import store_at

SECRETS = ("hunter2path", "hunter2pass", "hunter2sig", "hunter2marker")
PATH_TOKEN = "https://cdn.example/token=hunter2path/v.mp4"
PASSWORD = "https://ann:hunter2pass@cdn.example/w.mp4"
SIGNED = "https://cdn.example/x.mp4?sig=hunter2sig"
MARKER = "https://cdn.example/t/sig/hunter2marker/y.mp4"
BEFORE = "0008"  # the head of the release before


def vid(n: int) -> str:
    return f"{n:016x}"


@pytest.fixture
def db_url(analytics_db_url: str) -> str:
    """conftest's: SQLite, then PostgreSQL."""
    return analytics_db_url


@pytest.fixture
def store(db_url: str) -> Iterator[AnalyticsStore]:
    """conftest's `stub` serves it."""
    opened = AnalyticsStore(db_url)
    yield opened
    opened.close()


def stored_text(db_url: str, tmp_path: Path) -> str:
    """Everything the database holds, as text: the file's bytes on SQLite (once closed), the tables on
    PostgreSQL."""
    if db_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("analytics.sqlite3*")).decode("latin-1")
    engine = open_engine(db_url)
    try:
        with engine.connect() as c:
            return repr([c.execute(sa.select(t)).all() for t in (urls, videos)])
    finally:
        engine.dispose()


def record(link: str, video_id: str, status: int = DONE, performance: float = 1.0) -> analytics_pb2.RecordVideoRequest:
    """A row as a caller that gives its link as its location records it (its url shown without secrets)."""
    return analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url=secrets_hidden(link), location=link, video_id=video_id if status == DONE else "", status=status,
        performance=performance))


def test_grpc_answers_and_the_database_keep_no_secret_of_a_rows_link(stub, store, db_url, tmp_path) -> None:
    for n, link in enumerate((PATH_TOKEN, SIGNED, MARKER), start=1):
        assert stub.RecordVideo(record(link, vid(n)), timeout=30).created
    # A link with a user name and password is refused by ingest and recorded failed.
    assert stub.RecordVideo(record(PASSWORD, "", status=FAILED), timeout=30).created
    listed = stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert len(listed) == 4
    answers = repr(listed) + "".join(
        repr(stub.GetVideo(analytics_pb2.GetVideoRequest(location=link), timeout=30).video)
        for link in (PATH_TOKEN, PASSWORD, SIGNED, MARKER))
    assert not [s for s in SECRETS if s in answers], answers
    assert {v.location for v in listed} == {location_key(link) for link in (PATH_TOKEN, PASSWORD, SIGNED, MARKER)}
    assert "token=sha256-" in location_key(PATH_TOKEN) and "//***@" in location_key(PASSWORD)
    store.close()
    assert not [s for s in SECRETS if s in stored_text(db_url, tmp_path)]


def test_the_same_link_keys_the_same_row_and_another_secret_another_row(stub) -> None:
    assert stub.RecordVideo(record(PATH_TOKEN, vid(1)), timeout=30).created
    assert not stub.RecordVideo(record(PATH_TOKEN, vid(1)), timeout=30).created, "the same link: the same row"
    # The key given back (ListVideos) finds the row, as the link does.
    (row,) = stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert stub.GetVideo(analytics_pb2.GetVideoRequest(location=row.location), timeout=30).video.video_id == vid(1)
    other = PATH_TOKEN.replace("hunter2path", "hunter3path")
    assert stub.RecordVideo(record(other, vid(2)), timeout=30).created
    assert len(stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos) == 2


def old_store(db_url: str) -> None:
    """What the release before recorded: a path's token and a password kept in the key as given."""
    rows = [(PATH_TOKEN, secrets_hidden(PATH_TOKEN), vid(1), DONE), (MARKER, secrets_hidden(MARKER), vid(2), DONE),
            (PASSWORD, PASSWORD, "", FAILED),  # a caller other than ingest gave its url as written
            (secrets_digested(SIGNED), secrets_hidden(SIGNED), vid(3), DONE), ("/videos/a.mp4", "a.mp4", vid(4), DONE)]
    store_at(db_url, BEFORE, rows)


def test_an_old_stores_keys_lose_their_secrets_and_the_same_link_run_again_is_the_same_row(db_url, tmp_path) -> None:
    old_store(db_url)
    store = AnalyticsStore(db_url)  # migrates
    try:
        rows = store.list_videos()
        assert [(r.location, r.video_id) for r in rows] == [
            (location_key(PATH_TOKEN), vid(1)), (location_key(MARKER), vid(2)), (location_key(PASSWORD), ""),
            (secrets_digested(SIGNED), vid(3)), ("/videos/a.mp4", vid(4))], "each row in its place, keyed as today"
        assert rows[2].url == secrets_hidden(PASSWORD), "a url given as written is hidden as the store keeps it now"
        assert store.get_video(video_id=vid(1)).location == location_key(PATH_TOKEN), "its video follows it"
        for n, link in ((1, PATH_TOKEN), (2, MARKER), (3, SIGNED)):
            store.record_video(VideoRow(secrets_hidden(link), vid(n), 2.0, DONE, location=link))
        store.record_video(VideoRow(secrets_hidden(PASSWORD), "", 2.0, FAILED, location=PASSWORD))
        assert [(r.video_id, r.performance) for r in store.list_videos()] == [
            (vid(1), 2.0), (vid(2), 2.0), ("", 2.0), (vid(3), 2.0), (vid(4), 1.0)], "one row a link"
    finally:
        store.close()
    assert not [s for s in SECRETS if s in stored_text(db_url, tmp_path)]


def test_a_caller_that_gives_a_links_secrets_in_its_url_and_error_has_them_kept_out_too(
        stub, store, db_url, tmp_path) -> None:
    # A caller other than ingest (which hides them first) gives the link as written, and no location.
    for n, link in enumerate((PATH_TOKEN, PASSWORD), start=1):
        video = common_pb2.Video(url=link, video_id=vid(n), status=DONE, error=f"warning: {link}: cut short")
        assert stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=video), timeout=30).created
        assert not stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=video), timeout=30).created, "one row"
        found = stub.GetVideo(analytics_pb2.GetVideoRequest(url=link), timeout=30).video
        assert (found.video_id, found.url) == (vid(n), secrets_hidden(link))
    other = common_pb2.Video(url=PATH_TOKEN.replace("hunter2path", "hunter3path"), video_id=vid(3), status=DONE)
    assert stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=other), timeout=30).created, "another token"
    listed = stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert len(listed) == 3 and "hunter" not in repr(listed)
    store.close()
    assert "hunter" not in stored_text(db_url, tmp_path)


NAMED = "https://cdn.example/z.mp4?id=7&pwd=hunter2pwd&access-token=hunter2acc&token[]=hunter2arr"
JWT_LINK = "https://cdn.example/j.mp4?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.hunter2jwtsignature"


def test_secret_names_added_since_and_a_jwt_under_any_name_leave_an_old_stores_keys_and_the_same_link_is_one_row(
        db_url, tmp_path) -> None:
    # The release before kept them as given: in the key, the url, videos.csv and the page (migration 0014).
    store_at(db_url, "0013", [(NAMED, NAMED, vid(1), DONE), (JWT_LINK, JWT_LINK, "", FAILED)],
             error=f"{JWT_LINK}: HTTP 403 (forbidden: a private video, or a signed link that expired?)")
    store = AnalyticsStore(db_url)  # migrates
    try:
        rows = store.list_videos()
        assert [(r.location, r.url) for r in rows] == [(location_key(NAMED), secrets_hidden(NAMED)),
                                                        (location_key(JWT_LINK), secrets_hidden(JWT_LINK))]
        assert rows[0].url == "https://cdn.example/z.mp4?id=7&pwd=***&access-token=***&token[]=***"
        assert rows[1].url == "https://cdn.example/j.mp4?t=***" and rows[1].error.startswith(f"{rows[1].url}: HTTP 403")
        store.record_video(VideoRow(secrets_hidden(NAMED), vid(1), 2.0, DONE, location=NAMED))
        store.record_video(VideoRow(secrets_hidden(JWT_LINK), "", 2.0, FAILED, location=JWT_LINK))
        rows = store.list_videos()
        assert [(r.video_id, r.performance) for r in rows] == [(vid(1), 2.0), ("", 2.0)], "one row a link"
    finally:
        store.close()
    assert "hunter2" not in stored_text(db_url, tmp_path)


CODE_ST = "https://cdn.example/c.mp4?code=hunter2code&st=hunter2st&id=7"
HLS = "https://cdn.example/h.m3u8;jsessionid=hunter2sess?hdntl=hunter2hls"
SCHEMELESS = "//ann:hunter2pw@cdn.example/s.mp4"  # a link copied without its scheme: read as a local path


def test_names_added_since_0014_and_a_schemeless_links_password_leave_an_old_stores_keys_and_a_link_is_one_row(
        db_url, tmp_path) -> None:
    # The release before kept them as given (migration 0015): in the key (a schemeless link's, the path it names
    # resolved: one slash), the url, the error, videos.csv and the page.
    store_at(db_url, "0014", [(CODE_ST, CODE_ST, vid(1), DONE), (HLS, HLS, vid(2), DONE),
                              ("/ann:hunter2pw@cdn.example/s.mp4", SCHEMELESS, "", FAILED)],
             error=f"{SCHEMELESS}: file not found (read as a path: a web address is given whole, with its https://)")
    store = AnalyticsStore(db_url)  # migrates
    try:
        rows = store.list_videos()
        assert [(r.location, r.url) for r in rows] == [
            (location_key(CODE_ST), "https://cdn.example/c.mp4?code=***&st=***&id=7"),
            (location_key(HLS), "https://cdn.example/h.m3u8;jsessionid=***?hdntl=***"),
            ("/***@cdn.example/s.mp4", "//***@cdn.example/s.mp4")]
        assert rows[2].error.startswith("//***@cdn.example/s.mp4: file not found")
        # Each link run again, as ingest takes it in and keys it today, is its row.
        store.record_video(VideoRow(secrets_hidden(CODE_ST), vid(1), 2.0, DONE, location=CODE_ST))
        store.record_video(VideoRow(secrets_hidden(HLS), vid(2), 2.0, DONE, location=HLS))
        store.record_video(VideoRow("//***@cdn.example/s.mp4", "", 2.0, FAILED, location="/***@cdn.example/s.mp4"))
        rows = store.list_videos()
        assert [(r.video_id, r.performance) for r in rows] == [(vid(1), 2.0), (vid(2), 2.0), ("", 2.0)], "a row a link"
    finally:
        store.close()
    assert "hunter2" not in stored_text(db_url, tmp_path)


SCHEMELESS_QUERY = "//cdn.example/q.mp4?token=hunter2query&id=7"
SCHEMELESS_PATH = "//cdn.example/token=hunter2path/p.mp4"


def test_a_schemeless_links_tokens_leave_an_old_stores_key_and_the_cell_run_again_is_one_row(db_url, tmp_path) -> None:
    # The release before read `//cdn/v.mp4?token=...` as the local path `/cdn/v.mp4?token=...` and kept that as its
    # key, the token as given (migration 0017): GetVideo, ListVideos, the database file, videos.csv and the page.
    hint = "file not found (read as a path: a web address is given whole, with its https://)"
    plain = "https://cdn.example/plain.mp4"
    store_at(db_url, "0016", [(plain, plain, vid(1), DONE),
                              ("/cdn.example/q.mp4?token=hunter2query&id=7", secrets_hidden(SCHEMELESS_QUERY), "",
                               FAILED),
                              ("/cdn.example/token=hunter2path/p.mp4", secrets_hidden(SCHEMELESS_PATH), "", FAILED)],
             error=f"{secrets_hidden(SCHEMELESS_QUERY)}: {hint}")
    store = AnalyticsStore(db_url)  # migrates
    try:
        keys = [path_link_keyed(f"/{link[2:]}", link) for link in (SCHEMELESS_QUERY, SCHEMELESS_PATH)]
        assert keys[0].startswith("/cdn.example/q.mp4?token=sha256-") and keys[0].endswith("&id=7")
        assert keys[1].startswith("/cdn.example/token=sha256-") and keys[1].endswith("/p.mp4")
        assert [r.location for r in store.list_videos()] == [plain, *keys]
        # The cells run again, as ingest keys them today (the path resolved, its tokens digested), are their rows.
        for link, key in zip((SCHEMELESS_QUERY, SCHEMELESS_PATH), keys, strict=True):
            store.record_video(VideoRow(secrets_hidden(link), "", 2.0, FAILED, location=key))
        assert [(r.location, r.performance) for r in store.list_videos()][1:] == [(k, 2.0) for k in keys], \
            "a row a cell"
    finally:
        store.close()
    assert "hunter2" not in stored_text(db_url, tmp_path)
