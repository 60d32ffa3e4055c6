"""Identity's change feed storage (services/identity/feed.py) on SQLite and on a real PostgreSQL server: one
order, paging after a position, the retained tail, and a follower too far behind told so."""

from __future__ import annotations

import threading

import pytest

from influencers.v1 import common_pb2, identity_pb2
from services.common.database import open_engine
from services.identity.feed import ChangeFeed, TooFarBehind, trimmed_table


def change(video_id: str) -> identity_pb2.Change:
    return identity_pb2.Change(kind=identity_pb2.CHANGE_KIND_VIDEO, videos=[common_pb2.VideoAppearances(
        video_id=video_id, appearances=[common_pb2.Appearance(influencer_id="inf_0000000001", face_ref="x.jpg")])])


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'identity' / 'feed.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://", 1)
    e = open_engine(url)
    yield e
    e.dispose()


def videos(changes: list[identity_pb2.Change]) -> list[str]:
    return [v.video_id for c in changes for v in c.videos]


def test_changes_get_increasing_positions_and_are_read_back_in_order_after_a_position(engine):
    feed = ChangeFeed(engine)
    assert feed.head() == 0 and feed.read(0, 10) == ([], 0)
    first = feed.append([change("v1"), change("v2")])
    second = feed.append([change("v3")])
    assert first[0] < first[1] < second[0] and feed.head() == second[0]
    got, head = feed.read(0, 2)
    assert videos(got) == ["v1", "v2"] and [c.position for c in got] == first and head == second[0]
    got, _ = feed.read(first[1], 10)
    assert videos(got) == ["v3"] and got[0].kind == identity_pb2.CHANGE_KIND_VIDEO
    assert [c.position for c in feed.entries(first + second)] == first + second


def test_a_hook_on_append_is_called_once_the_changes_can_be_read_and_not_for_an_empty_append(engine):
    feed = ChangeFeed(engine)
    seen: list[int] = []
    feed.on_append.append(lambda: seen.append(feed.head()))
    feed.append([])
    position = feed.append([change("v1"), change("v2")])[-1]
    assert seen == [position]


def test_appends_from_several_threads_keep_one_gapless_order(engine):
    feed = ChangeFeed(engine)

    def write(k: int) -> None:
        for n in range(10):
            feed.append([change(f"t{k}-{n}")])
    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got, head = feed.read(0, 1000)
    assert len(got) == 40 and head == got[-1].position
    assert [c.position for c in got] == sorted(c.position for c in got)
    for k in range(4):  # each writer's own changes in the order it wrote them
        assert [v for v in videos(got) if v.startswith(f"t{k}-")] == [f"t{k}-{n}" for n in range(10)]


def test_only_the_newest_changes_are_kept_and_a_follower_further_behind_is_told_to_resync(engine):
    feed = ChangeFeed(engine, retention=5)
    positions = [feed.append([change(f"v{k}")])[0] for k in range(12)]
    assert feed.trim() == 7
    with pytest.raises(TooFarBehind):
        feed.read(positions[5], 10)  # the change after it (positions[6]) is gone
    got, head = feed.read(positions[6], 10)
    assert videos(got) == [f"v{k}" for k in range(7, 12)] and head == positions[-1]
    assert feed.read(positions[-1], 10) == ([], positions[-1])


def test_positions_go_on_after_a_trim_and_a_reopen(engine):
    feed = ChangeFeed(engine, retention=1)
    last = feed.append([change("a"), change("b"), change("c")])[-1]
    feed.trim()
    assert ChangeFeed(engine, retention=1).head() == last
    assert feed.append([change("d")])[0] > last


def test_each_entry_is_read_with_its_own_digest_and_an_erasures_rewrite_keeps_it(engine):
    feed = ChangeFeed(engine)
    positions = feed.append([change("v1"), change("v2")])
    got, _ = feed.read(0, 10)
    digests = [c.digest for c in got]
    assert digests == [feed.digest(p) for p in positions] and len(set(digests)) == 2 and all(digests)
    assert feed.digest(0) == "" and feed.digest(positions[-1] + 1) == ""
    assert feed.redact("inf_0000000001") == 2  # the entries' bytes rewritten in place: still the entries applied
    assert [c.digest for c in feed.read(0, 10)[0]] == digests


def test_a_follower_exactly_at_the_newest_trimmed_entry_is_sent_that_entrys_digest(engine):
    feed = ChangeFeed(engine, retention=2)
    positions = [feed.append([change(f"v{k}")])[0] for k in range(5)]
    applied = feed.digest(positions[2])
    assert feed.trim() == 3  # positions[2], the follower's, is gone with the two before it
    got, head, at = feed.read_page(positions[2], 10)
    assert videos(got) == ["v3", "v4"] and head == positions[-1]
    assert at == applied and feed.digest(positions[2]) == applied  # was "": the follower took any feed as its sequel
    assert feed.read_page(positions[-1], 10) == ([], positions[-1], feed.digest(positions[-1]))


def test_a_follower_exactly_at_an_entry_trimmed_before_digests_were_kept_is_told_to_resync(engine):
    feed = ChangeFeed(engine, retention=2)
    positions = [feed.append([change(f"v{k}")])[0] for k in range(5)]
    feed.trim()
    with engine.begin() as conn:  # as a trim of the release before migration 0004 left it
        conn.execute(trimmed_table.update().values(through_digest=None))
    with pytest.raises(TooFarBehind, match=f"position {positions[2]} was trimmed before its digest was kept"):
        feed.read_page(positions[2], 10)
    assert videos(feed.read(positions[3], 10)[0]) == ["v4"]  # a follower past it goes on
