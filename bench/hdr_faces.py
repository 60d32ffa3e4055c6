"""What tone-mapping HDR10 (PQ) video gives the face detector, and what it costs: corpus videos turned into PQ HEVC by
ffmpeg's zscale (SDR white at 203 nits, BT.2020, tagged as a phone's HDR10 is), sampled as ingest samples them with the
tone map (services/ingest/tonemap.py) and without it (read as SDR, as before), and searched for faces by the detector
identity runs (services/identity/detection.py, whole frames by HOG). Prints faces found per video for the SDR source,
the PQ clip tone-mapped and the PQ clip read as SDR, the CPU seconds of sampling each way (decoding included), and how
far the face encodings of the PQ clip's frames lie from the SDR source's (Euclidean, 128-d; the same face, the SDR
frame's box; the same-person threshold is 0.6) each way.

    .venv/bin/python bench/hdr_faces.py [--corpus ../shared/corpus/smoke] [--videos 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.identity.detection import ShotDetector  # noqa: E402
from services.identity.faces import FaceModel  # noqa: E402
from services.ingest import colour  # noqa: E402
from services.ingest.sampling import ShotSampler  # noqa: E402
from services.ingest.video import sample_frames  # noqa: E402

SDR_TO_PQ = ("zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=smpte2084:m=bt2020nc:p=bt2020:r=tv:npl=203,"
             "format=yuv420p10le")


def to_pq(src: Path, dst: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-an", "-vf", SDR_TO_PQ, "-c:v", "libx265", "-preset",
                    "ultrafast", "-x265-params", "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:"
                    "colormatrix=bt2020nc", str(dst)], check=True)
    return dst


def sampled(path: Path, tone_map: bool) -> tuple[list, float]:
    """The sampled frames of `path` (with or without the tone map) and the CPU seconds of sampling it."""
    mapped = colour.is_hdr
    colour.is_hdr = mapped if tone_map else (lambda transfer: False)
    try:
        started = time.process_time()
        _, frames = sample_frames(path, ShotSampler(1.0))
        frames = list(frames)
        return frames, time.process_time() - started
    finally:
        colour.is_hdr = mapped


def found(model: FaceModel, frames: list) -> tuple[int, list]:
    """Faces the pipeline's detector finds in `frames`, and their boxes by frame timestamp."""
    detector = ShotDetector(model)
    count, boxes = 0, []
    for f in frames:
        faces = detector.detect(cv2.cvtColor(f.bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(f.bgr, cv2.COLOR_BGR2RGB), f.shot)
        count += len(faces)
        boxes.append((f.timestamp_s, [d.box for d in faces]))
    return count, boxes


def distances(model: FaceModel, sdr: list, other: list, boxes: list) -> list[float]:
    """Encoding distances between each SDR face (its box) and the same box in the frame of `other` at its time."""
    by_time = {round(f.timestamp_s, 2): f for f in other}
    out = []
    for f, (_, at) in zip(sdr, boxes, strict=True):
        twin = by_time.get(round(f.timestamp_s, 2))
        for box in at if twin is not None else []:
            rgb, theirs = cv2.cvtColor(f.bgr, cv2.COLOR_BGR2RGB), cv2.cvtColor(twin.bgr, cv2.COLOR_BGR2RGB)
            mine = model.encode(rgb, [model.landmarks(rgb, box)])[0]
            other_enc = model.encode(theirs, [model.landmarks(theirs, box)])[0]
            out.append(float(np.linalg.norm(mine - other_enc)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "smoke")
    parser.add_argument("--videos", type=int, default=6)
    args = parser.parse_args(argv)
    model = FaceModel()
    totals = [0, 0, 0, 0.0, 0.0]
    near: dict[str, list[float]] = {"mapped": [], "as SDR": []}
    print(f"{'video':8} {'samples':>7} {'SDR':>5} {'PQ mapped':>9} {'PQ as SDR':>9} {'CPU mapped':>10} {'as SDR':>7} "
          f"{'dist mapped':>11} {'as SDR':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for src in sorted((args.corpus / "videos").glob("*.mp4"))[: args.videos]:
            pq = to_pq(src, Path(scratch) / src.name)
            sdr, _ = sampled(src, True)
            mapped, cpu_mapped = sampled(pq, True)
            raw, cpu_raw = sampled(pq, False)
            (n_sdr, boxes), (n_mapped, _), (n_raw, _) = found(model, sdr), found(model, mapped), found(model, raw)
            d_mapped, d_raw = distances(model, sdr, mapped, boxes), distances(model, sdr, raw, boxes)
            near["mapped"] += d_mapped
            near["as SDR"] += d_raw
            print(f"{src.stem:8} {len(sdr):7} {n_sdr:5} {n_mapped:9} {n_raw:9} {cpu_mapped:10.2f} {cpu_raw:7.2f} "
                  f"{np.mean(d_mapped or [0]):11.3f} {np.mean(d_raw or [0]):7.3f}")
            for k, v in enumerate((n_sdr, n_mapped, n_raw, cpu_mapped, cpu_raw)):
                totals[k] += v
    print(f"{'all':8} {'':7} {totals[0]:5} {totals[1]:9} {totals[2]:9} {totals[3]:10.2f} {totals[4]:7.2f} "
          f"{np.mean(near['mapped']):11.3f} {np.mean(near['as SDR']):7.3f}")
    for name, values in near.items():
        print(f"encodings of the PQ clip {name}: {len(values)} faces, mean {np.mean(values):.3f}, "
              f"max {np.max(values):.3f} from the SDR source's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
