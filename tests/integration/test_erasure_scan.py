"""After `influencers delete ID`, another batch, a whole-store recluster and a re-export, no byte of the person
is left under the data dir: the raw bytes of every file are scanned for the id, the float32 bytes of their
face vectors and their crops (JPEG bytes and base64). Then a repost of one of their videos (the same frames in
other bytes) is flagged on the video's page: the analyst decides."""

import base64
import csv
import hashlib
import urllib.request
from pathlib import Path

import numpy as np

from influencers.cli import main
from influencers.stack import start_stack
from services.identity.edge_store import EdgeFaceStore


def manifest(corpus: Path, rows: list[list[str]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Performance", "Video URL"])
        out.writerows([score, str((corpus / url).resolve())] for score, url in rows)
    return path


def needles(data: Path) -> tuple[str, dict[str, bytes], str]:
    """The influencer with the most faces, what of them the scan looks for, and one of their videos."""
    store = EdgeFaceStore(data / "qdrant" / "edge")
    try:
        counts = store.influencer_counts()
        victim = max(counts, key=lambda i: (counts[i], i))
        faces = store.faces_of(victim, with_vectors=True)
        found = {"id": victim.encode()}
        for k, face in enumerate(faces[:5]):
            found[f"vector {k} (float32, 512 bytes)"] = np.asarray(face.vector, "<f4").tobytes()
        for k, ref in enumerate(sorted({f.record.crop for f in faces if f.record.crop})[:3]):
            b64 = store.get_side("crop", ref)["jpeg"]
            jpeg = base64.b64decode(b64)
            middle = len(jpeg) // 2
            found[f"crop {k} JPEG bytes (64 from the middle)"] = jpeg[middle:middle + 64]
            found[f"crop {k} base64 (64 characters from the middle)"] = b64[len(b64) // 2:len(b64) // 2 + 64].encode()
        return victim, found, faces[0].record.video_id
    finally:
        store.close()


def scan(data: Path, wanted: dict[str, bytes]) -> tuple[list[str], int, int]:
    """(what was found where, files scanned, bytes scanned)."""
    hits, files, size = [], 0, 0
    for path in sorted(p for p in data.rglob("*") if p.is_file() and not p.is_symlink()):
        raw = path.read_bytes()
        files += 1
        size += len(raw)
        hits += [f"{what} in {path.relative_to(data)}" for what, needle in wanted.items() if needle in raw]
    return hits, files, size


def test_nothing_of_an_erased_person_is_left_in_any_file_of_the_data_dir(corpus, tmp_path, settings):
    smoke = corpus("smoke")
    rows = list(csv.reader((smoke / "manifest.csv").open()))[1:]
    data = settings.data_dir
    first = manifest(smoke, rows[:8], tmp_path / "first.csv")
    later = manifest(smoke, rows[8:], tmp_path / "later.csv")
    assert main(["run", str(first), "--no-serve", "--data-dir", str(data), "--ingest-port", "0",
                 "--identity-port", "0", "--analytics-port", "0", "--metrics-port", "0", "--workers", "2"]) == 0
    victim, wanted, their_video = needles(data)
    before, _, _ = scan(data, wanted)
    assert any(h.startswith("id ") for h in before) and any(h.startswith("crop") for h in before)

    stack = start_stack(settings, web=False)
    try:
        s = stack.settings
        ports = ["--identity-port", str(s.identity_port), "--analytics-port", str(s.analytics_port)]
        assert main(["delete", victim, *ports]) == 0
        assert main(["ingest", str(later), "--ingest-port", str(s.ingest_port)]) == 0
        assert main(["recluster", *ports]) == 0
        assert victim not in stack.store.names() and not [
            r for r in stack.store.appearance_frame().itertuples() if r.influencer_id == victim]
    finally:
        stack.stop()
    assert main(["export", "--data-dir", str(data), "--out", str(data / "report")]) == 0

    hits, files, size = scan(data, wanted)
    print(f"erasure scan: {files} files, {size} bytes under {data.name}/; looked for {len(wanted)} needles: "
          + "; ".join(f"{what} ({len(needle)} bytes)" for what, needle in wanted.items()))
    print("found before the delete:", *before, sep="\n  ")
    print("found after:", *(hits or ["nothing"]), sep="\n  ")
    assert hits == []

    # A repost: one of their videos with other bytes (a tail appended) and the same frames.
    original = next(smoke / url for _, url in rows if hashlib.sha256((smoke / url).read_bytes()).hexdigest()[:16]
                    == their_video)
    repost = tmp_path / "repost.mp4"
    repost.write_bytes(original.read_bytes() + b"repost")
    again = manifest(smoke, [["1.0", str(repost)]], tmp_path / "repost.csv")
    stack = start_stack(settings, web=True)
    try:
        s = stack.settings
        assert main(["ingest", str(again), "--ingest-port", str(s.ingest_port)]) == 0
        reposted = hashlib.sha256(repost.read_bytes()).hexdigest()[:16]
        assert stack.store.repost_of(reposted), "the repost is flagged"
        page = urllib.request.urlopen(f"{stack.web_url}video/{reposted}").read().decode()
        assert "appears again" in page and "erased on" in page
        print("repost flagged on", f"/video/{reposted}")
    finally:
        stack.stop()
