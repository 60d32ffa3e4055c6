"""A link past 1 KiB with a secret, recorded by the release before migration 0009 and run again after it, is the
same row, on SQLite and on a real PostgreSQL server. That release keyed such a link by the head and SHA-256 of
the link with its query's secrets digested alone (its password and path tokens as given); 0009 could only digest
what the head kept, so its key was not the one the same link gets today, and the rerun was a second row (the
first listed for ever beside it, or a second video's row). Links that differ in a secret stay two rows."""

from __future__ import annotations

import hashlib

import pytest
from alembic import command

from services.analytics.records import DONE, DUPLICATE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import HISTORY, urls, videos
from services.common.database import open_engine
from services.common.location_key import MAX_KEY_BYTES, location_key
from services.common.url_secrets import secrets_digested, secrets_hidden
from tests.support.old_stores import store_at

BEFORE = "0008"  # the head of the release before 0009
LONG = "/".join(f"season-{k:03d}" for k in range(100))  # 1,099 characters of path
PASSWORD = f"https://ann:hunter2pass@cdn.example/{LONG}/a.mp4"  # failed: ingest refuses a password
SIGNED_EARLY = f"https://cdn.example/b.mp4?token=hunter2early&path={LONG}"
PATH_TOKEN = f"https://cdn.example/token=hunter2path/{LONG}/c.mp4"
PASSWORD_AND_TOKEN = f"https://bob:hunter2pw@cdn.example/d.mp4?sig=hunter2sig&p={LONG}"


def signed_cut_in_its_digest() -> str:
    """A long signed link whose key's head (952 bytes) ends inside its token's digest."""
    padding = "x" * (952 - len("https://cdn.example/") - len("?token=sha256-") - 10)
    link = f"https://cdn.example/{padding}.mp4?token=hunter2cut&tail={LONG}"
    assert secrets_digested(link).index("sha256-") < 952 < secrets_digested(link).index("sha256-") + 39
    return link


SIGNED_CUT = signed_cut_in_its_digest()
LINKS = [PASSWORD, SIGNED_EARLY, PATH_TOKEN, PASSWORD_AND_TOKEN, SIGNED_CUT]


def key_before_0009(link: str) -> str:
    """The key the release before gave a link: the query's secrets digested, past 1 KiB its head and SHA-256."""
    raw = secrets_digested(link).encode()
    assert len(raw) > MAX_KEY_BYTES
    return f"{raw[:952].decode()}#sha256={hashlib.sha256(raw).hexdigest()}"


def vid(n: int) -> str:
    return f"{n:016x}"


def old_store(db_url: str) -> None:
    """What ingest of the release before recorded: each link (the password's failed), its url hidden."""
    rows = [(key_before_0009(link), secrets_hidden(link), "" if link == PASSWORD else vid(k),
             FAILED if link == PASSWORD else DONE) for k, link in enumerate(LINKS, start=1)]
    store_at(db_url, BEFORE, rows, error="a password in a link")


def rerun(link: str, n: int, performance: float = 2.0) -> VideoRow:
    """The row ingest of today records for `link` (its location keyed as today)."""
    if link == PASSWORD:
        return VideoRow(secrets_hidden(link), "", performance, FAILED, error="a password in a link",
                        location=location_key(link))
    return VideoRow(secrets_hidden(link), vid(n), performance, DONE, location=location_key(link))


@pytest.fixture
def db_url(analytics_db_url: str) -> str:
    return analytics_db_url


def test_a_long_link_with_a_secret_recorded_before_0009_and_run_again_is_the_same_row(db_url) -> None:
    old_store(db_url)
    store = AnalyticsStore(db_url)  # migrates
    try:
        for n, link in enumerate(LINKS, start=1):
            store.record_video(rerun(link, n))
        rows = store.list_videos()
        assert [(r.location, r.video_id, r.performance, r.status) for r in rows] == [
            (location_key(link), "" if link == PASSWORD else vid(n), 2.0, FAILED if link == PASSWORD else DONE)
            for n, link in enumerate(LINKS, start=1)], "one row a link, in its place, keyed as today"
        for n, link in enumerate(LINKS[1:], start=2):
            video = store.get_video(video_id=vid(n))
            assert (video.location, video.performance) == (location_key(link), 2.0), "its video follows it"
        assert not store.record_video(rerun(PATH_TOKEN, 3)), "a third run changes nothing"
    finally:
        store.close()


def test_a_long_link_differing_only_in_a_secret_from_one_recorded_before_0009_is_another_row(db_url) -> None:
    old_store(db_url)
    store = AnalyticsStore(db_url)
    try:
        others = [link.replace("hunter2", "hunter3") for link in (SIGNED_EARLY, PATH_TOKEN, SIGNED_CUT)]
        for n, link in enumerate(others, start=11):
            store.record_video(VideoRow(secrets_hidden(link), vid(n), 3.0, DONE, location=location_key(link)))
        rows = store.list_videos()
        assert len(rows) == len(LINKS) + len(others)
        assert [(r.video_id, r.performance) for r in rows[:len(LINKS)]] == [
            ("" if link == PASSWORD else vid(n), 1.0) for n, link in enumerate(LINKS, start=1)], "old rows as they were"
        assert {r.location for r in rows[len(LINKS):]} == {location_key(link) for link in others}
        assert {r.status for r in rows} <= {DONE, FAILED, DUPLICATE}
    finally:
        store.close()



def store_keyed_by_0009_alone_and_run_again(db_url: str) -> None:
    """A store the release before brought through 0009 as it first was (each long key digested from the key
    alone), whose links were then run again: each a second row, a duplicate of the first's video."""
    engine = open_engine(db_url)
    first = [(location_key(key_before_0009(link)), link) for link in LINKS]
    again = [(location_key(link), link) for location, link in first if location != location_key(link)]
    assert len(again) == len(LINKS) - 1  # a query token in the head was keyed by 0009 as today
    try:
        with engine.connect() as c, c.begin():
            command.upgrade(HISTORY.config(c), "0010")
            c.execute(urls.insert(), [
                dict(location=location, url=secrets_hidden(link), video_id="" if link == PASSWORD else vid(k),
                     performance=1.0 + (seq > len(LINKS)), error="a password in a link" if link == PASSWORD else "",
                     status=FAILED if link == PASSWORD else DONE if seq <= len(LINKS) else DUPLICATE,
                     external_id="", updated_at=float(seq), seq=seq, repeats=0)
                for seq, (k, (location, link)) in enumerate(
                    [*enumerate(first, start=1), *((LINKS.index(link) + 1, (key, link)) for key, link in again)],
                    start=1)])
            c.execute(videos.insert(), [
                dict(video_id=vid(k), url=secrets_hidden(link), performance=1.0, status=DONE, error="",
                     duration_s=5.0, faces=1, location=location, seq=k)
                for k, (location, link) in enumerate(first, start=1) if link != PASSWORD])
    finally:
        engine.dispose()


def test_a_store_keyed_by_0009_alone_has_each_long_links_two_rows_made_one_where_its_url_tells_the_key(
        db_url) -> None:
    store_keyed_by_0009_alone_and_run_again(db_url)
    store = AnalyticsStore(db_url)  # migration 0011
    try:
        rows = store.list_videos()
        told = [link for link in LINKS if link not in (SIGNED_EARLY, SIGNED_CUT)]
        assert [(r.location, r.video_id, r.performance, r.status) for r in rows if r.url in map(
            secrets_hidden, told)] == [
            (location_key(link), "" if link == PASSWORD else vid(LINKS.index(link) + 1), 2.0,
             FAILED if link == PASSWORD else DONE) for link in told], "one row a link, in the first's place"
        assert [r.url for r in rows[:len(LINKS)]] == [secrets_hidden(link) for link in LINKS]
        for link in told[1:]:
            video = store.get_video(video_id=vid(LINKS.index(link) + 1))
            assert (video.location, video.performance) == (location_key(link), 2.0), "its video follows it"
        # The head of a query token cut in its digest, digested again by 0009, tells no key: two rows stay.
        assert [r.status for r in rows if r.url == secrets_hidden(SIGNED_CUT)] == [DONE, DUPLICATE]
        assert len(rows) == len(LINKS) + 1
    finally:
        store.close()
