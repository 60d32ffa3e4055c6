"""Peak memory of `influencers run` as a user runs it (issue 22: <= 1.5 GiB on dev): the resident size of the
whole process tree at once (the run, identity's workers, ingest's decoders and their fork server), sampled every
half second, beside the run's own process and the tree's CPU. Shared pages (libraries, a decoder's pages shared
with its fork server) count once per process, as RSS does: the figure is an upper bound of what the tree holds.

    .venv/bin/python bench/peak_memory.py [--corpus ../shared/corpus/dev] [--ports 51150]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput_user import run_as_user  # noqa: E402

GIB = 2**30
TARGET = 1.5 * GIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/dev",
                        help="folder with manifest.csv")
    parser.add_argument("--ports", type=int, default=0,
                        help="first of three free ports for ingest, identity and analytics (default: theirs)")
    args = parser.parse_args()
    ports = ["--ingest-port", str(args.ports), "--identity-port", str(args.ports + 1),
             "--analytics-port", str(args.ports + 2)] if args.ports else []
    run = run_as_user(args.corpus / "manifest.csv", extra_args=ports)
    verdict = "met" if run.peak_rss_bytes <= TARGET else "MISSED"
    print(f"influencers run on {args.corpus}: exit {run.exit_code}, {run.wall_s:.1f} s, "
          f"CPU of the tree {run.cpu_user_s + run.cpu_system_s:.1f} s")
    print(f"peak RSS of the process tree {run.peak_rss_bytes / GIB:.2f} GiB (target <= 1.5 GiB: {verdict}); "
          f"the run's own process {run.peak_rss_main_bytes / GIB:.2f} GiB")
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
