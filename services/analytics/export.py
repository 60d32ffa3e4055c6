"""Writes the report files other tools read: influencers.csv, appearances.csv, videos.csv, faces/ and
report.json. Column names and orders are a contract; extra influencer columns only go at the end.
report.json is strict JSON (a number that is not finite is null); "model_available" says whether a model
could be fitted and, when not, "model_unavailable_reason" why (its "model" errors are then 0).

Every CSV (these files and the page's downloads) neutralises formula cells by OWASP's rule against CSV
injection: a text cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so
a spreadsheet shows it as text instead of running it. Number columns are written as numbers.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from pandas.api.types import is_numeric_dtype

from services.analytics.analysis import AnalysisCache
from services.analytics.audit import audit_frame
from services.analytics.export_format import significant
from services.analytics.report import TABLES, face_path, json_ready, table
from services.analytics.store import AnalyticsStore
from services.common import name_text


def export_report(store: AnalyticsStore, out_dir: Path, root: str = "") -> dict[str, Path]:
    """Writes the report under `out_dir` (created if needed) and returns the paths written, by key:
    "influencers", "appearances", "videos", "audit" (CSV), "faces" (folder of <influencer_id>.jpg), "report" (JSON).
    Numbers are rounded and local locations made relative to `root` (the allowed folder) by export_format;
    every column is described in docs/exports.md.
    """
    out_dir = Path(out_dir)
    faces_dir = out_dir / "faces"
    faces_dir.mkdir(parents=True, exist_ok=True)
    analysis = AnalysisCache(store).current()
    written: dict[str, Path] = {}
    for name in TABLES:
        frame = table(store, analysis, name, root)
        if name == "influencers":
            frame = frame.assign(representative_image=[
                _write_face(store, out_dir, i) for i in frame["influencer_id"]
            ])
            _remove_unlisted(faces_dir, {p for p in frame["representative_image"] if p})
        path = out_dir / f"{name}.csv"
        path.write_bytes(to_safe_csv(frame).encode("utf-8"))
        written[name] = path
    written["audit"] = out_dir / "audit.csv"  # every correction by hand (docs/audit.md)
    written["audit"].write_bytes(to_safe_csv(audit_frame(store.audit_rows())).encode("utf-8"))
    written["faces"] = faces_dir
    summary = {
        "videos": analysis.scored_videos,
        "influencers": len(analysis.stats),
        "overall_mean": float(significant([analysis.overall_mean])[0]),
        # "model" stays numbers only (readers format every value); whether there is a model goes beside it.
        "model": {k: (v if isinstance(v, int) else float(significant([v])[0]))
                  for k, v in asdict(analysis.quality).items() if k != "unavailable"},
        "model_available": not analysis.quality.unavailable,
        "model_unavailable_reason": analysis.quality.unavailable,
        "files": {k: p.relative_to(out_dir).as_posix() for k, p in written.items()},
    }
    written["report"] = out_dir / "report.json"
    text = json.dumps(json_ready(summary), indent=2, allow_nan=False)  # strict JSON: no NaN, no Infinity
    written["report"].write_text(text + "\n", encoding="utf-8")
    return written


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with `'`; anything else as is. Invisible
    leading characters (blanks, zero-width, BOM, bidi marks) do not hide a formula: they count as leading."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS)
                                   or name_text.leading_visible(value).startswith(FORMULA_STARTS)):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every cell of its non-numeric columns passed through neutralise_cell."""
    out = frame.copy()
    for column in out.columns:
        if not is_numeric_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    return out


def to_safe_csv(frame: pd.DataFrame) -> str:
    """The CSV text of `frame` (no index), formula cells neutralised. Lines end in CRLF (RFC 4180), so a
    cell holding a carriage return is quoted like one holding a line feed."""
    return neutralised(frame).to_csv(index=False, lineterminator="\r\n")


def _remove_unlisted(faces_dir: Path, listed: set[str]) -> list[Path]:
    """Removes the face files of faces/ that this export does not list (an erased or merged influencer's
    face from an earlier export must not outlive it); returns what went."""
    gone = []
    for path in sorted(faces_dir.glob("*.jpg")):
        if f"faces/{path.name}" not in listed:
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


def _write_face(store: AnalyticsStore, out_dir: Path, influencer_id: str) -> str:
    """Writes the influencer's best face; returns its relative path, or "" when there is none."""
    relative = face_path(influencer_id)
    face = store.best_face(influencer_id) if relative else None
    if not face:
        return ""
    (out_dir / relative).write_bytes(face)
    return relative
