"""The early repost rules (services/ingest/stream_digest.py, then signature.py): their errors, and what they
buy on a repost catalogue.

    .venv/bin/python bench/reposts.py [--corpus DIR] [--reencode N] [--catalogue DIR] [--originals N]

1. Errors: the coded-stream digest of every video of the corpus (default dev): pairs with one digest; N
   videos remuxed into MP4, MKV and MPEG-TS, which must keep it; their re-encodes, which must not. Then the
   signature of every video of the corpus; every pair the rule calls a repost (printed with truth.csv's
   people, so a true repost is told from a false one); N videos re-encoded at CRF 35 and at half size with
   CRF 28 (other bytes, other noise), and how many are recognised; another person in the same setting (two
   corpus photos pasted at one place of one background, faces of 50 to 140 px).
2. Catalogue (with --catalogue, a folder made by ../shared/tools/make_catalogue.py): `influencers run
   --no-serve` on the first N originals of it and their copies, with INFLUENCERS_EARLY_REPOSTS true and false
   side by side, each on a fresh data dir: wall time, videos per second, people and B-cubed F1.
Writes bench/out/reposts.json.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.ingest import signature as sig  # noqa: E402
from services.ingest.sampling import ShotSampler  # noqa: E402
from services.ingest.stream_digest import stream_digest  # noqa: E402
from services.ingest.video import sample_frames  # noqa: E402
from tests.support.media import reencode, remux  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpus"
INFLUENCERS = [sys.executable, "-m", "influencers"]


def look(path: Path) -> sig.Signature | None:
    info, frames = sample_frames(path, ShotSampler(1.0))
    times, prints = [], []
    for f in frames:
        times.append(f.timestamp_s)
        prints.append(sig.frame_print(f.bgr))
    return sig.signature(info.duration_s, times, prints)


def digest_errors(corpus: Path, names: list[str], sample: int, scratch: Path) -> dict:
    """Pairs of the corpus with one digest; remuxes of `sample` videos that keep theirs; re-encodes that do."""
    started = time.perf_counter()
    digests = {name: stream_digest(corpus / name) for name in names}
    per_video_ms = (time.perf_counter() - started) / max(1, len(names)) * 1000
    shared = [(a, b) for a, b in itertools.combinations(names, 2) if digests[a] and digests[a] == digests[b]]
    picked = names[:: max(1, len(names) // max(1, sample))][:sample]
    kept = tried = reencoded_same = 0
    for name in picked:
        for container, suffix in (("mp4", "mp4"), ("matroska", "mkv"), ("mpegts", "ts")):
            tried += 1
            kept += stream_digest(remux(corpus / name, scratch / f"remux_{Path(name).stem}.{suffix}", container)) \
                == digests[name]
        reencoded_same += stream_digest(reencode(corpus / name, scratch / f"q_{Path(name).name}", 18)) \
            == digests[name]
    print(f"coded-stream digests: {len(names)} videos ({per_video_ms:.1f} ms each), pairs sharing one: "
          f"{len(shared)}; remuxes keeping it: {kept} of {tried}; re-encodes (CRF 18) keeping it: "
          f"{reencoded_same} of {len(picked)}")
    return {"videos": len(names), "ms_per_video": per_video_ms, "pairs": shared, "remuxes_kept": [kept, tried],
            "reencodes_kept": [reencoded_same, len(picked)]}


def errors(corpus: Path, reencoded: int, scratch: Path) -> dict:
    with (corpus / "truth.csv").open(newline="") as f:
        truth = {r["file"]: r["people"] for r in csv.DictReader(f)}
    digests = digest_errors(corpus, sorted(truth), reencoded, scratch)
    looks = {name: look(corpus / name) for name in sorted(truth)}
    pairs = [(a, b, truth[a], truth[b]) for a, b in itertools.combinations(sorted(looks), 2)
             if looks[a] and looks[b] and sig.is_repost(looks[a], looks[b])]
    print(f"{len(looks)} videos, {len(looks) * (len(looks) - 1) // 2} pairs; called reposts:")
    for a, b, pa, pb in pairs:
        print(f"  {a} ~ {b}   people {pa or '-'} / {pb or '-'}")
    names = sorted(looks)[:: max(1, len(looks) // max(1, reencoded))][:reencoded]
    recognised, tried = 0, 0
    for name in names:
        for crf, scale in ((35, 1.0), (28, 0.5)):
            again = look(reencode(corpus / name, scratch / f"re_{crf}_{scale}_{Path(name).name}", crf, scale))
            tried += 1
            recognised += bool(again and looks[name] and sig.is_repost(looks[name], again))
    print(f"re-encodes recognised: {recognised} of {tried} (CRF 35; half size CRF 28)")
    photos = sorted((corpus.parent / "photos").glob("*/*.jpg"))
    people = sorted({p.parent for p in photos})
    background = cv2.resize(cv2.GaussianBlur(cv2.imread(str(photos[-1])), (0, 0), 15), (720, 1280))
    fewest: dict[int, int] = {}
    confused = 0
    for size in (50, 60, 80, 100, 140):
        for a, b in zip(people, people[1:], strict=False):
            prints = []
            for who in (a, b):
                frame = background.copy()
                frame[400:400 + size, 200:200 + size] = cv2.resize(cv2.imread(str(sorted(who.glob("*.jpg"))[0])),
                                                                   (size, size))
                prints.append(sig.frame_print(frame))
            diff = np.abs(prints[0].astype(int) - prints[1].astype(int))
            cells = int((diff > sig.CELL_LEVELS).sum())
            fewest[size] = min(fewest.get(size, cells), cells)
            confused += sig.frames_alike(prints[0], prints[1])
    print(f"another person in the same setting: fewest differing cells by face size {fewest}; "
          f"frames called alike: {confused}")
    return {"digests": digests, "videos": len(looks), "pairs": [list(p) for p in pairs],
            "reencodes": [recognised, tried],
            "same_setting_fewest_cells": fewest, "same_setting_confused": confused}


def catalogue_run(catalogue: Path, originals: int, early: bool, scratch: Path) -> dict:
    with (catalogue / "truth.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    firsts = sorted({r["video"].split("_", 1)[1] for r in rows})[:originals]
    kept = [r for r in rows if r["video"].split("_", 1)[1] in firsts]
    part = scratch / f"catalogue_{early}"
    part.mkdir(parents=True, exist_ok=True)
    with (part / "manifest.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Performance", "Video URL"])
        w.writerows([r["performance"], str(catalogue / r["file"])] for r in kept)
    with (part / "truth.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(kept[0]))
        w.writeheader()
        w.writerows(kept)
    env = dict(os.environ, INFLUENCERS_EARLY_REPOSTS=str(early).lower(), PYTHONPATH=str(REPO))
    data = part / "data"
    started = time.perf_counter()
    subprocess.run([*INFLUENCERS, "run", str(part / "manifest.csv"), "--data-dir", str(data), "--no-serve",
                    "--metrics-port", "0"],
                   env=env, check=False, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    result = subprocess.run([*INFLUENCERS, "eval", "--data-dir", str(data), "--truth", str(part)], env=env,
                            capture_output=True, text=True, check=False).stdout.strip()
    print(f"early reposts {'on ' if early else 'off'}: {len(kept)} videos in {wall:.1f} s "
          f"({len(kept) / wall:.2f} videos/s)\n  {result.splitlines()[-1] if result else '(no eval)'}")
    return {"early": early, "videos": len(kept), "wall_s": wall, "eval": result}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPORA / "dev")
    p.add_argument("--reencode", type=int, default=10, help="videos re-encoded to check recognition")
    p.add_argument("--catalogue", type=Path, help="a repost catalogue folder (make_catalogue.py)")
    p.add_argument("--originals", type=int, default=40, help="originals of the catalogue run, with all copies")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "reposts.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reposts-") as tmp:
        out: dict = {"errors": errors(args.corpus, args.reencode, Path(tmp))}
        if args.catalogue:
            out["catalogue"] = [catalogue_run(args.catalogue, args.originals, early, Path(tmp))
                                for early in (False, True)]
            off, on = out["catalogue"]
            print(f"videos per second: {on['videos'] / on['wall_s']:.2f} on vs {off['videos'] / off['wall_s']:.2f} "
                  f"off ({off['wall_s'] / on['wall_s']:.2f}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
