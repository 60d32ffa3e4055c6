"""Report benchmark: how long the analytics take to compute and the page to render at scale.

Fills a real AnalyticsStore (SQLite in a temp dir, or the empty PostgreSQL database of --database-url) with
synthetic rows (1,000 influencers and 100,000 videos by default), then times each step of the report and
prints the figures; the same figures go to bench/out/report_bench.json.
Run from the repo root:  .venv/bin/python bench/report_bench.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from services.analytics.analysis import AnalysisCache
from services.analytics.export import export_report
from services.analytics.model import evaluate, fit_predictor
from services.analytics.stats import attribution, influencer_stats
from services.analytics.store import AnalyticsStore
from services.analytics.synthetic import planted_data
from services.analytics.web import create_app

OUT = Path(__file__).resolve().parent / "out" / "report_bench.json"
T = TypeVar("T")


def timed(figures: dict[str, float], key: str, call: Callable[[], T]) -> T:
    """Runs `call`, stores its wall time in seconds under `key`, prints it and returns the result."""
    start = time.perf_counter()
    result = call()
    figures[key] = round(time.perf_counter() - start, 4)
    print(f"{key:<32} {figures[key]:>9.3f} s", flush=True)
    return result


def get(client, path: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
    return response.data


def run(n_influencers: int, n_videos: int, seed: int, work: Path, database_url: str = "") -> dict[str, object]:
    figures: dict[str, float] = {}
    load_before = os.getloadavg()[0]  # other work on the machine skews the figures (BLAS threads above all)
    data = timed(figures, "generate_rows_s", lambda: planted_data(n_videos, n_influencers, seed=seed))
    store = AnalyticsStore(database_url or work / "analytics.sqlite3")
    try:
        timed(figures, "store_fill_s", lambda: store.record_many(data.items()))
        timed(figures, "store_names_s", lambda: store.replace_appearances({}, data.names))
        videos = timed(figures, "video_frame_s", store.video_frame)
        appearances = timed(figures, "appearance_frame_s", store.appearance_frame)
        stats = timed(figures, "influencer_stats_s", lambda: influencer_stats(videos, appearances))
        timed(figures, "attribution_s", lambda: attribution(videos, appearances))
        timed(figures, "fit_predictor_s", lambda: fit_predictor(videos, appearances))
        quality = timed(figures, "model_evaluate_s", lambda: evaluate(videos, appearances))
        timed(figures, "analysis_cache_cold_s", AnalysisCache(store).current)
        timed(figures, "export_report_s", lambda: export_report(store, work / "report"))

        client = create_app(store, {"TESTING": True}).test_client()
        busiest = str(stats.sort_values("videos", ascending=False)["influencer_id"].iloc[0])
        first_video = data.videos[0].video_id
        page = timed(figures, "get_overview_cold_s", lambda: get(client, "/"))
        timed(figures, "get_overview_warm_s", lambda: get(client, "/"))
        timed(figures, "get_influencer_s", lambda: get(client, f"/influencer/{busiest}"))
        timed(figures, "get_chart_png_s", lambda: get(client, "/chart.png"))
        timed(figures, "get_video_s", lambda: get(client, f"/video/{first_video}"))
        # The player's byte range of a video (synthetic rows have no file: the lookup, then 404).
        timed(figures, "get_video_media_range_s",
              lambda: client.get(f"/video/{first_video}/media", headers={"Range": "bytes=0-"}).status_code)
        timed(figures, "get_influencers_csv_s", lambda: get(client, "/download/influencers.csv"))
    finally:
        store.close()

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"{'peak_rss_mib':<32} {peak_rss_mib:>9.0f} MiB")
    return {
        "influencers": n_influencers,
        "videos": n_videos,
        "appearances": sum(len(rows) for rows in data.appearances.values()),
        "influencers_ranked": len(stats),
        "busiest_influencer_videos": int(stats["videos"].max()),
        "overview_html_bytes": len(page),
        "model": {"mae": quality.mae, "baseline_mae": quality.baseline_mae, "r2": quality.r2,
                  "baseline_r2": quality.baseline_r2, "folds": quality.folds},
        "seconds": figures,
        "peak_rss_mib": round(peak_rss_mib, 1),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "cpus": os.cpu_count(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=1_000)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON results (default {OUT})")
    parser.add_argument("--database-url", default="",
                        help="an EMPTY PostgreSQL database to fill instead of SQLite in a temp dir")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="report_bench_") as tmp:
        result = run(args.influencers, args.videos, args.seed, Path(tmp), args.database_url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
