"""Writes the report files other tools read: influencers.csv, appearances.csv, videos.csv, faces/ and
report.json. Column names and orders are a contract; extra influencer columns only go at the end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from services.analytics.analysis import AnalysisCache
from services.analytics.report import TABLES, face_path, table
from services.analytics.store import AnalyticsStore


def export_report(store: AnalyticsStore, out_dir: Path) -> dict[str, Path]:
    """Writes the report under `out_dir` (created if needed) and returns the paths written, by key:
    "influencers", "appearances", "videos" (CSV), "faces" (folder of <influencer_id>.jpg), "report" (JSON).
    """
    out_dir = Path(out_dir)
    faces_dir = out_dir / "faces"
    faces_dir.mkdir(parents=True, exist_ok=True)
    analysis = AnalysisCache(store).current()
    written: dict[str, Path] = {}
    for name in TABLES:
        frame = table(store, analysis, name)
        if name == "influencers":
            frame = frame.assign(representative_image=[
                _write_face(store, out_dir, i) for i in frame["influencer_id"]
            ])
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written[name] = path
    written["faces"] = faces_dir
    summary = {
        "videos": analysis.scored_videos,
        "influencers": len(analysis.stats),
        "overall_mean": analysis.overall_mean,
        "model": asdict(analysis.quality),
        "files": {k: p.relative_to(out_dir).as_posix() for k, p in written.items()},
    }
    written["report"] = out_dir / "report.json"
    written["report"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return written


def _write_face(store: AnalyticsStore, out_dir: Path, influencer_id: str) -> str:
    """Writes the influencer's best face; returns its relative path, or "" when there is none."""
    relative = face_path(influencer_id)
    face = store.best_face(influencer_id) if relative else None
    if not face:
        return ""
    (out_dir / relative).write_bytes(face)
    return relative
