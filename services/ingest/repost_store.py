"""Where ingest keeps the signatures of the videos it analysed (tables `ingest_signatures` and
`ingest_signature_keys`) and their coded-stream digests (`ingest_stream_digests`), beside the job queue:
SQLite in the data dir, or the shared PostgreSQL; and finds the analysed videos a new one may be a repost
of. Every ingest replica reads and writes the same tables."""

from __future__ import annotations

import json
import zlib

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.ingest.job_store import metadata
from services.ingest.signature import Signature, lookup_keys, query_keys

MAX_CANDIDATES = 50  # videos checked in full for one lookup (~0.1 ms each), those sharing most keys first

signatures_t = sa.Table(
    "ingest_signatures", metadata,
    sa.Column("video_id", sa.String(128), primary_key=True), sa.Column("duration_s", sa.Float),
    sa.Column("times", sa.Text), sa.Column("prints", sa.LargeBinary))
digests_t = sa.Table(
    "ingest_stream_digests", metadata,
    sa.Column("digest", sa.String(96), primary_key=True), sa.Column("video_id", sa.String(128), primary_key=True),
    sa.Column("duration_s", sa.Float, nullable=False))
sa.Index("ingest_stream_digests_video", digests_t.c.video_id)
keys_t = sa.Table(
    "ingest_signature_keys", metadata,
    sa.Column("lookup_key", sa.String(32), primary_key=True), sa.Column("video_id", sa.String(128), primary_key=True))


class RepostStore:
    """Signatures on `engine` (migrated by services.ingest.job_store.migrate)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def remember(self, video_id: str, sig: Signature) -> None:
        """Keeps `sig` as the look of the analysed video `video_id` (again: replaced)."""
        keys = sorted(set(lookup_keys(sig)))
        with self.engine.begin() as conn:
            conn.execute(keys_t.delete().where(keys_t.c.video_id == video_id))
            conn.execute(signatures_t.delete().where(signatures_t.c.video_id == video_id))
            conn.execute(signatures_t.insert().values(
                video_id=video_id, duration_s=sig.duration_s, times=json.dumps(list(sig.times_s)),
                prints=zlib.compress(sig.to_bytes(), 1)))
            if keys:
                conn.execute(keys_t.insert(), [{"lookup_key": k, "video_id": video_id} for k in keys])

    def remember_digest(self, video_id: str, digest: str, duration_s: float) -> None:
        """Keeps `digest` (stream_digest.py) as the coded stream of the analysed video `video_id`, which
        lasts `duration_s` seconds."""
        with self.engine.begin() as conn:
            conn.execute(digests_t.delete().where(digests_t.c.video_id == video_id))
            conn.execute(digests_t.insert().values(digest=digest, video_id=video_id, duration_s=duration_s))

    def add_digest(self, video_id: str, digest: str, duration_s: float) -> None:
        """Keeps `digest` as another digest of the analysed video `video_id` (lasting `duration_s` seconds) beside
        those it has: the digest of today of a stream whose stored one an older release wrote (a hidden head or
        end was not digested then), so that its next copy is known by it at once. Already kept: nothing."""
        try:
            with self.engine.begin() as conn:
                kept = conn.execute(sa.select(digests_t.c.video_id).where(
                    digests_t.c.digest == digest, digests_t.c.video_id == video_id)).first()
                if kept is None:
                    conn.execute(digests_t.insert().values(digest=digest, video_id=video_id, duration_s=duration_s))
        except sa.exc.IntegrityError:
            pass  # another replica kept it in the meantime, from another copy

    def same_stream(self, digest: str, excluding: str = "") -> list[tuple[str, float]]:
        """Analysed videos whose coded stream has `digest` (never `excluding`), with their durations in
        seconds, oldest id first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(digests_t.c.video_id, digests_t.c.duration_s).where(
                digests_t.c.digest == digest, digests_t.c.video_id != excluding).order_by(digests_t.c.video_id)
                .limit(MAX_CANDIDATES)).all()
        return [(r.video_id, r.duration_s) for r in rows]

    def forget(self, video_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(digests_t.delete().where(digests_t.c.video_id == video_id))
            conn.execute(keys_t.delete().where(keys_t.c.video_id == video_id))
            conn.execute(signatures_t.delete().where(signatures_t.c.video_id == video_id))

    def candidates(self, sig: Signature, excluding: str = "") -> list[tuple[str, Signature]]:
        """Analysed videos sharing a lookup key with `sig` (those sharing most keys first, at most
        MAX_CANDIDATES), with their signatures; never `excluding`."""
        keys = sorted(set(query_keys(sig)))
        shared = sa.func.count().label("shared")
        with self.engine.connect() as conn:
            ids = conn.execute(
                sa.select(keys_t.c.video_id, shared).where(keys_t.c.lookup_key.in_(keys),
                                                           keys_t.c.video_id != excluding)
                .group_by(keys_t.c.video_id).order_by(shared.desc(), keys_t.c.video_id).limit(MAX_CANDIDATES)
            ).scalars().all()
            if not ids:
                return []
            rows = conn.execute(sa.select(signatures_t).where(signatures_t.c.video_id.in_(ids))).all()
        found = {r.video_id: Signature.from_parts(r.duration_s, json.loads(r.times), zlib.decompress(r.prints))
                 for r in rows}
        return [(v, found[v]) for v in ids if v in found]
