"""Feed lag during a batch: ingests a corpus (default: the smoke corpus) through a one-process stack and
samples, every 20 ms, identity's feed head and the position analytics has applied. A position's lag is the
time from when it was first seen at the head to when analytics had applied it. Prints p50, p99 and max.

    python bench/feed_lag.py [CORPUS_DIR]      # docs/performance.md: ../shared/corpus/dev
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from influencers.client import ingest_manifest
from influencers.stack import start_stack
from services.common.rpc import open_channel
from services.common.settings import Settings

SAMPLE_S = 0.02


def main(corpus: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", ingest_port=0, identity_port=0, analytics_port=0,
                            web_port=0, allow_private_urls=True)
        stack = start_stack(settings, web=False)
        seen: dict[int, float] = {}
        applied: dict[int, float] = {}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                now = time.monotonic()
                head, done = stack.identity.feed.head(), stack.store.feed_position()
                for p in range(max(seen, default=0) + 1, head + 1):
                    seen[p] = now
                for p in range(max(applied, default=0) + 1, done + 1):
                    applied[p] = now
                stop.wait(SAMPLE_S)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        results = ingest_manifest(open_channel(stack.settings.ingest_target), corpus / "manifest.csv", timeout_s=1800)
        wall = time.monotonic() - t0
        time.sleep(0.5)
        stop.set()
        sampler.join()
        stack.stop()
    lags = np.array([applied[p] - seen[p] for p in seen if p in applied])
    print(f"{len(results)} rows in {wall:.1f} s; {len(seen)} feed changes, {len(lags)} applied")
    print(f"feed lag s: p50 {np.percentile(lags, 50):.3f}  p99 {np.percentile(lags, 99):.3f}  max {lags.max():.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, help="corpus folder holding manifest.csv (default: the smoke "
                        "corpus of ../shared)",
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "smoke")
    main(parser.parse_args().corpus)
