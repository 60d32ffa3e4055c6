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
import math
import os
import re
import secrets
import time
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
    every column is described in docs/exports.md. Every file is written under a temporary name first and all
    are put in place once all are written: an export that fails part way (a full disk: OSError naming the
    file) leaves the previous export's files as they were, and no file cut short.
    """
    out_dir = Path(out_dir)
    faces_dir = out_dir / "faces"
    faces_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out_dir)
    staged = _Staged()
    try:
        written = _stage(store, out_dir, root, staged)
        staged.commit()
    finally:
        staged.discard()
    _remove_unlisted(faces_dir, {f"faces/{p.name}" for p in staged.placed if p.parent == faces_dir})
    return written


def _stage(store: AnalyticsStore, out_dir: Path, root: str, staged: _Staged) -> dict[str, Path]:
    """Writes every file of the report into `staged`; returns the paths they go to, by key."""
    faces_dir = out_dir / "faces"
    analysis = AnalysisCache(store).current()
    written: dict[str, Path] = {}
    for name in TABLES:
        frame = table(store, analysis, name, root)
        if name == "influencers":
            frame = frame.assign(representative_image=[
                _write_face(store, out_dir, i, staged) for i in frame["influencer_id"]
            ])
        path = out_dir / f"{name}.csv"
        staged.write(path, to_safe_csv(frame).encode("utf-8"))
        written[name] = path
    written["audit"] = out_dir / "audit.csv"  # every correction by hand (docs/audit.md)
    staged.write(written["audit"], to_safe_csv(audit_frame(store.audit_rows())).encode("utf-8"))
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
    staged.write(written["report"], (text + "\n").encode("utf-8"))
    return written


class _Staged:
    """Files written beside their place under temporary names (`.videos.csv.1a2b3c4d.partial`), put in place
    together by commit(); discard() removes what was not put in place. `placed`: the paths put in place."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []
        self.placed: list[Path] = []

    def write(self, path: Path, data: bytes) -> None:
        """Writes `data` for `path`; OSError naming `path` when it cannot (a full disk: ENOSPC)."""
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # as umask allows
            self.pending.append((temporary, path))
            with open(fd, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc

    def commit(self) -> None:
        for temporary, path in self.pending:
            os.replace(temporary, path)
            self.placed.append(path)
        self.pending.clear()

    def discard(self) -> None:
        for temporary, _ in self.pending:
            temporary.unlink(missing_ok=True)
        self.pending.clear()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with `'`; anything else as is. Invisible
    leading characters (blanks, zero-width, BOM, bidi marks) do not hide a formula: they count as leading."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS)
                                   or name_text.leading_visible(value).startswith(FORMULA_STARTS)):
        return "'" + value
    return value


def as_written(value: object) -> object:
    """The cell neutralise_cell made `value` from (`'@mia.mp4` -> `@mia.mp4`): a reader of an export (eval) compares
    the text as written, not as guarded from spreadsheets. Anything else as is."""
    if isinstance(value, str) and value.startswith("'") and neutralise_cell(value[1:]) == value:
        return value[1:]
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
    cell holding a carriage return is quoted like one holding a line feed. Every text cell that is not empty is
    in double quotes, as OWASP's rule asks: Excel set to a `;` list separator (German, French, ... Windows) splits
    an unquoted `a.mp4;=cmd|' /C calc'!A0` at the `;` and runs the cell after it, which no `'` in front guards.
    Numbers (as pandas writes them) and empty cells stay bare; the header is as pandas writes it."""
    safe = neutralised(frame)
    if safe.columns.empty or safe.empty:
        return safe.to_csv(index=False, lineterminator="\r\n")
    columns = []
    for k in range(safe.shape[1]):
        column = safe.iloc[:, k]
        if is_numeric_dtype(column.dtype):
            # A number holds no separator, quote or line break: pandas' own text of it, line by line (a one-column
            # CSV writes an empty cell as `""`, so that its line is not blank).
            lines = column.to_frame().to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
            columns.append(["" if cell == '""' else cell for cell in lines])
        else:
            columns.append([_quoted(value) for value in column.tolist()])
    header = safe.iloc[0:0].to_csv(index=False, lineterminator="\r\n")
    return header + "".join(",".join(cells) + "\r\n" for cells in zip(*columns, strict=True))


def _quoted(value: object) -> str:
    """A text column's cell: in double quotes (doubled inside), or "" for an empty one (None, NaN, "")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = value if isinstance(value, str) else str(value)
    return '"' + text.replace('"', '""') + '"' if text else ""


# An export writes its files in seconds: a temporary file this old was left by one that was killed (SIGKILL, power).
# A younger one may be another export's, writing now.
STALE_PARTIAL_S = 3600.0
_PARTIAL = re.compile(r"\..+\.[0-9a-f]{8}\.partial")


def remove_stale_partials(out_dir: Path, now: float | None = None) -> list[Path]:
    """Removes the temporary files (_Staged's) that exports killed part way left in `out_dir` and its faces/,
    once STALE_PARTIAL_S old; returns what went."""
    now = time.time() if now is None else now
    gone = []
    for folder in (out_dir, out_dir / "faces"):
        for path in sorted(folder.glob(".*.partial")):
            try:
                if _PARTIAL.fullmatch(path.name) and path.is_file() and now - path.stat().st_mtime > STALE_PARTIAL_S:
                    path.unlink()
                    gone.append(path)
            except OSError:  # gone meanwhile, or not ours to remove: the next export tries again
                continue
    return gone


def _remove_unlisted(faces_dir: Path, listed: set[str]) -> list[Path]:
    """Removes the face files of faces/ that this export does not list (an erased or merged influencer's
    face from an earlier export must not outlive it); returns what went."""
    gone = []
    for path in sorted(faces_dir.glob("*.jpg")):
        if f"faces/{path.name}" not in listed:
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


def _write_face(store: AnalyticsStore, out_dir: Path, influencer_id: str, staged: _Staged) -> str:
    """Writes the influencer's best face; returns its relative path, or "" when there is none."""
    relative = face_path(influencer_id)
    face = store.best_face(influencer_id) if relative else None
    if not face:
        return ""
    staged.write(out_dir / relative, face)
    return relative
