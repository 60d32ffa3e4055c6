"""What tone-mapping HDR10 (PQ) video gives the face detector, and what it costs: corpus videos turned into PQ HEVC by
ffmpeg's zscale (SDR white at 203 nits, BT.2020, tagged as a phone's HDR10 is), sampled as ingest samples them with the
tone map (services/ingest/tonemap.py) and without it (read as SDR, as before), and searched for faces by the detector
identity runs (services/identity/detection.py, whole frames by HOG). Prints faces found per video for the SDR source,
the PQ clip tone-mapped and the PQ clip read as SDR, and the CPU seconds of sampling each way (decoding included).

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


def faces(model: FaceModel, path: Path, tone_map: bool) -> tuple[int, int, float]:
    """Samples, faces found in them, and CPU seconds of sampling `path` (with or without the tone map)."""
    mapped = colour.is_hdr
    colour.is_hdr = mapped if tone_map else (lambda transfer: False)
    try:
        started = time.process_time()
        _, sampled = sample_frames(path, ShotSampler(1.0))
        frames = list(sampled)
        cpu = time.process_time() - started
    finally:
        colour.is_hdr = mapped
    detector = ShotDetector(model)
    found = 0
    for f in frames:
        rgb = cv2.cvtColor(f.bgr, cv2.COLOR_BGR2RGB)
        found += len(detector.detect(cv2.cvtColor(f.bgr, cv2.COLOR_BGR2GRAY), rgb, f.shot))
    return len(frames), found, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "smoke")
    parser.add_argument("--videos", type=int, default=6)
    args = parser.parse_args(argv)
    model = FaceModel()
    totals = [0, 0, 0, 0.0, 0.0]
    print(f"{'video':8} {'samples':>7} {'SDR':>5} {'PQ mapped':>9} {'PQ as SDR':>9} {'CPU mapped':>10} {'as SDR':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for src in sorted((args.corpus / "videos").glob("*.mp4"))[: args.videos]:
            pq = to_pq(src, Path(scratch) / src.name)
            samples, sdr, _ = faces(model, src, True)
            _, mapped, cpu_mapped = faces(model, pq, True)
            _, raw, cpu_raw = faces(model, pq, False)
            print(f"{src.stem:8} {samples:7} {sdr:5} {mapped:9} {raw:9} {cpu_mapped:10.2f} {cpu_raw:7.2f}")
            for k, v in enumerate((sdr, mapped, raw, cpu_mapped, cpu_raw)):
                totals[k] += v
    print(f"{'all':8} {'':7} {totals[0]:5} {totals[1]:9} {totals[2]:9} {totals[3]:10.2f} {totals[4]:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
