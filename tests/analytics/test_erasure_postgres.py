"""On PostgreSQL an erased influencer's rows are gone from the table files, not only from the queries: the
erasure rewrites the tables (VACUUM FULL), so the files that held the rows are removed. (The server's WAL
still holds the inserts until its segments are recycled: PostgreSQL's, not the project's, to scrub.)"""

import sqlalchemy as sa

from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label
from services.common.erasure import erasure_key

VICTIM, OTHER = "inf_00000000e1", "inf_00000000e2"
CROP = b"\xff\xd8" + b"face-of-the-erased-person-" * 8


def test_an_erasure_leaves_no_row_bytes_in_the_postgresql_table_files(postgres_server, postgres_url):
    store = AnalyticsStore(postgres_url)
    try:
        store.record_video(VideoRow(url="a.mp4", video_id="00000000000000e1", performance=1.0,
                                    status=common_pb2.VIDEO_STATUS_DONE),
                           [AppearanceRow("00000000000000e1", VICTIM, 0.0, 1.0, 1, 1.0, 0.9, CROP, False),
                            AppearanceRow("00000000000000e1", OTHER, 0.0, 1.0, 1, 1.0, 0.9, b"other", False)])
        store.replace_appearances({}, {VICTIM: "Victim Name"})
        store.apply_changes(1, {}, {}, [Label("", deleted=True, erased_key=erasure_key(VICTIM))])
        assert [r.influencer_id for r in store.appearances_in("00000000000000e1")] == [OTHER]
        engine = sa.create_engine(postgres_server.url().replace("postgresql://", "postgresql+psycopg://"))
        name = postgres_url.rsplit("/", 1)[1]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")  # every page written to the table files
            oid = conn.execute(sa.text("select oid from pg_database where datname = :n"), {"n": name}).scalar()
        engine.dispose()
        folder = postgres_server.root / "db" / "base" / str(oid)
        files = [p for p in folder.iterdir() if p.is_file()]
        found = [p.name for p in files for needle in (VICTIM.encode(), CROP[:40], b"Victim Name")
                 if needle in p.read_bytes()]
        print(f"scanned {len(files)} table files of database {name}: {found or 'nothing of the erased person'}")
        assert found == []
        assert any(OTHER.encode() in p.read_bytes() for p in files), "the scan reads the rows that stay"
    finally:
        store.close()
