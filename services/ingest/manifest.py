"""Reading a marketing export: a CSV with `Performance` and `Video URL` columns (any order, any case,
extra columns ignored, UTF-8 with or without BOM, or Latin-1). Bad rows become rows with an error."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

URL_COLUMNS = ("video url", "video_url", "url", "video")
PERFORMANCE_COLUMNS = ("performance", "score", "engagement")
ID_COLUMNS = ("id", "video id", "video_id", "external id", "external_id")


class ManifestError(ValueError):
    """The manifest as a whole is unusable (missing file, no URL column)."""


@dataclass(frozen=True)
class ManifestRow:
    line: int  # 1-based line in the file, header = 1
    url: str
    performance: float | None
    external_id: str = ""
    error: str = ""


def _decode(raw: bytes) -> str:
    """UTF-16 when it has a BOM, else UTF-8 (BOM optional), else Latin-1 (older Excel exports)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    folded = [h.strip().lower() for h in header]
    for name in names:
        if name in folded:
            return folded.index(name)
    return None


def parse_performance(cell: str) -> tuple[float | None, str]:
    text = cell.strip().replace(",", ".") if cell.count(",") == 1 and "." not in cell else cell.strip()
    if not text:
        return None, "performance is missing"
    try:
        value = float(text)
    except ValueError:
        return None, f"performance {cell.strip()!r} is not a number"
    if math.isnan(value) or math.isinf(value):
        return None, f"performance {cell.strip()!r} is not a finite number"
    if value < 0:
        return None, f"performance {value} is negative"
    return value, ""


def read_manifest(path: Path) -> list[ManifestRow]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    text = _decode(raw)
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise ManifestError(f"manifest {path} is empty")
    header = rows[0]
    url_col = _column(header, URL_COLUMNS)
    perf_col = _column(header, PERFORMANCE_COLUMNS)
    id_col = _column(header, ID_COLUMNS)
    if url_col is None:
        raise ManifestError(f"manifest {path} has no 'Video URL' column (columns: {', '.join(header)})")
    if perf_col is None:
        raise ManifestError(f"manifest {path} has no 'Performance' column (columns: {', '.join(header)})")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        url = row[url_col].strip() if url_col < len(row) else ""
        perf, error = parse_performance(row[perf_col]) if perf_col < len(row) else (None, "performance is missing")
        ext = row[id_col].strip() if id_col is not None and id_col < len(row) else ""
        if not url:
            error = "video URL is missing"
        out.append(ManifestRow(line, url, perf, ext, error))
    return out
