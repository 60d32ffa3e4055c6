"""Reading a marketing export: a CSV with `Performance` and `Video URL` columns (any order, any case,
extra columns ignored, UTF-8 with or without BOM, UTF-16 with BOM, or Latin-1; fields separated by `,`,
`;` or tab). Bad rows become rows with an error; a row with more cells than the header is refused (an
unquoted `1,250` would otherwise shift its cells).

How a performance cell is read (a cell is read only when it has exactly one reading):

| cell | comma-separated file | `;`- or tab-separated file |
|---|---|---|
| plain decimal: `1250`, `1250.5`, `.5`, `+2`, `1.5e3` | that number | that number, except `1.250`: ambiguous |
| thousands commas grouping by exactly three, dot decimal: `1,250.5`, `12,345,678` | 1250.5, 12345678 | the same |
| one comma and three digits, no dot: `1,250` | 1250 | ambiguous (1250 or 1.25) |
| decimal comma, no dot: `1,5`, `0,125`, `12,50` | ambiguous | 1.5, 0.125, 12.5 |
| anything else with a comma or a second dot: `1,25,0`, `1.250,5`, `1.250.000` | ambiguous | ambiguous |

Refused with a message on the row: `performance '...' is ambiguous: ...`, `... is not a number` (empty
after the sign, letters, spaces, `_`, `%`, currency signs), `... is not a finite number` (NaN, inf, or
beyond the range of a double), `... is negative`, `... has too many digits` (over 30 characters).
The `line N:` prefix is added by the client.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

URL_COLUMNS = ("video url", "video_url", "url", "video")
PERFORMANCE_COLUMNS = ("performance", "score", "engagement")
ID_COLUMNS = ("id", "video id", "video_id", "external id", "external_id")
MAX_NUMBER_CHARS = 30

# ASCII digits only: float() would also read other scripts' digits.
_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+", re.ASCII)  # `1.250`: 1250 in some locales
_SEPARATED = re.compile(r"[+-]?[\d.,]+", re.ASCII)


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


def parse_performance(cell: str, delimiter: str = ",") -> tuple[float | None, str]:
    """The score in `cell` and "" , or None and why not (see the module docstring for the rule).
    `delimiter` is the file's field separator: `;` and tab files may use decimal commas."""
    text = cell.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not text:
        return None, "performance is missing"
    if len(text) > MAX_NUMBER_CHARS:
        return None, f"performance {shown!r} has too many digits (more than {MAX_NUMBER_CHARS} characters)"
    number, why = _read_number(text, decimal_comma=delimiter != ",")
    if number is None:
        return None, f"performance {shown!r} {why}"
    value = float(number)
    if math.isnan(value) or math.isinf(value):
        return None, f"performance {shown!r} is not a finite number"
    if value < 0:
        return None, f"performance {shown!r} is negative"
    return value + 0.0, ""  # -0 reads as 0


def _read_number(text: str, decimal_comma: bool) -> tuple[str | None, str]:
    """`text` as a plain decimal for float(), or None and the reason ("is ambiguous: ...")."""
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return text, ""
    if _PLAIN.fullmatch(text):
        if decimal_comma and _DOT_THOUSANDS.fullmatch(text):
            return None, "is ambiguous: a dot before three digits may be a thousands separator in a file " \
                         "with decimal commas; write it without separators"
        return text, ""
    if "," not in text:
        if _DOT_THOUSANDS.fullmatch(text):
            return None, "is ambiguous: dots are read as decimal points, and this has several"
        return None, "is not a number"
    thousands = _THOUSANDS.fullmatch(text) is not None
    decimal = decimal_comma and _DECIMAL_COMMA.fullmatch(text) is not None
    if thousands and decimal:
        return None, "is ambiguous: the comma may separate thousands or decimals; write it without " \
                     "thousands separators, with a dot or a comma for decimals"
    if thousands:
        return text.replace(",", ""), ""
    if decimal:
        return text.replace(",", "."), ""
    if _SEPARATED.fullmatch(text):
        reason = "a decimal comma is read only in ;- or tab-separated files" if _DECIMAL_COMMA.fullmatch(text) \
            else "commas must group thousands by three before a dot decimal"
        return None, f"is ambiguous: {reason}"
    return None, "is not a number"


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
    delimiter = dialect.delimiter
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
        perf, error = (parse_performance(row[perf_col], delimiter) if perf_col < len(row)
                       else (None, "performance is missing"))
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            perf, error = None, (f"{len(row)} cells but the header has {len(header)} (an unquoted comma, as "
                                 f"in 1,250?); quote the cell or drop the separator")
        ext = row[id_col].strip() if id_col is not None and id_col < len(row) else ""
        if not url:
            error = "video URL is missing"
        out.append(ManifestRow(line, url, perf, ext, error))
    return out
