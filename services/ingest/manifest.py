"""Reading a marketing export: a CSV with `Performance` and `Video URL` columns (any order, any case and
spacing, extra columns ignored, blank lines before the header skipped; a column named twice is refused; a
header repeated further down, as in exports joined end to end, is no row, and the rows after it are read by it;
a row whose score reads as a number is never one;
one in another separator starts an export read in that one),
UTF-8 with or without BOM, UTF-16 (BOM optional), UTF-32 (with BOM), or Windows-1252 (else Latin-1), each of exports
joined end to end in its own; fields separated by `,`, `;` or tab (sniffed, or named by Excel's `sep=;` first line),
quoted by `"` alone. Bad rows become rows with an error; a row with more cells than the header is refused (an
unquoted `1,250` would otherwise shift its cells).

How a performance cell is read (a cell is read only when it has exactly one reading):

| cell | comma-separated file | `;`- or tab-separated file |
|---|---|---|
| plain decimal: `1250`, `1250.5`, `.5`, `+2`, `1.5e3` | that number | that number, except `1.250`: ambiguous |
| thousands commas grouping by exactly three, dot decimal: `1,250.5`, `12,345,678` | 1250.5, 12345678 | the same |
| one comma and three digits, no dot: `1,250` | 1250 | ambiguous (1250 or 1.25) |
| decimal comma, no dot: `1,5`, `0,125`, `12,50` | ambiguous | 1.5, 0.125, 12.5 |
| anything else with a comma or a second dot: `1,25,0`, `1.250,5`, `1.250.000` | ambiguous | ambiguous |
| grouped by U+00A0, U+202F, U+2009 or an apostrophe: `1'250.5` | 1250.5 | also `1'250,5`: 1250.5 |
| another script's digits `١٢`, `１２`; Arabic separators `٣٫٥`, `١٬٢٥٠` | 12, 12; 3.5, 1250 | the same |

Refused with a message on the row: `performance '...' is ambiguous: ...`, `... is not a number` (empty
after the sign, letters, spaces, `_`, `%`, currency signs), `... is not a finite number` (NaN, inf, or
beyond the range of a double), `... is negative`, `... is too small to be held` (a number that is not 0
but under the smallest double, 5e-324, `1e-400`: float() reads it as 0), `... is too large` (over 1e9,
services/common/scores.py, the rule every entry of a score shares), `... has too many digits` (over 30
characters).
The `line N:` prefix is added by the client.

The file as a whole is refused (ManifestError naming it; the CLI prints one line and exits 2) when it is
neither a regular file nor a pipe (a folder, a socket, a device such as /dev/zero; a FIFO is read once, to its
writer's end), is larger than `max_bytes`
(INFLUENCERS_MAX_MANIFEST_BYTES), has a cell over MAX_CELL_CHARS, more than MAX_ROWS rows, a quote left
open (it would swallow the rows after it; a quoted value holding a line break but no separator fails its row
alone), no URL or performance column, or no rows. Lines may end in LF,
CRLF or CR, even mixed.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import select
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.common.boundary import MAX_TEXT_CHARS, escaped
from services.common.file_kind import file_kind
from services.common.scores import score_problem

URL_COLUMNS = ("video url", "video_url", "url", "video")
PERFORMANCE_COLUMNS = ("performance", "score", "engagement")
ID_COLUMNS = ("id", "video id", "video_id", "external id", "external_id")
MAX_NUMBER_CHARS = 30
# Bytes of a manifest file read at most (Settings.max_manifest_bytes overrides it). Its rows travel to
# ingest in one gRPC message of at most 32 MiB (services/common/rpc.py), so larger files would fail there.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# Characters of one cell; below the csv module's own default limit (131,072), so one rule says no.
MAX_CELL_CHARS = MAX_TEXT_CHARS
# Rows of one manifest: with the byte cap, this keeps the rows' message under gRPC's 32 MiB (a row costs
# about 15 bytes beyond its text) and the reading to seconds (about 15 us a row).
MAX_ROWS = 1_000_000

# ASCII digits only: float() would also read other scripts' digits.
_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+", re.ASCII)  # `1.250`: 1250 in some locales
_SEPARATED = re.compile(r"[+-]?[\d.,]+", re.ASCII)
# Thousands grouped by a no-break, narrow no-break or thin space (U+00A0, U+202F, U+2009) or an apostrophe
# (`1'250.5`), as French and Swiss Excel write a formatted number in a CSV: never a decimal separator, one kind in
# a number. A plain blank stays none (`1 250` is not a number).
_BLANK_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}([\u00a0\u202f\u2009'\u2019\u066c])\d{3}(?:\1\d{3})*(?:[.,]\d+)?",
                              re.ASCII)
# Numbers written in another script's digits (Arabic-Indic `١٢`, Persian, Devanagari, full-width `１２`, as a sheet
# typed in those locales holds them) read as the same number: each decimal digit as its ASCII one, Arabic's decimal
# separator U+066B as a point (its thousands separator U+066C groups as the blanks above do), full-width signs and
# separators and the minus sign U+2212 as the ASCII ones. Only decimal digits: `²` or `½` stay no number.
_ASCII_FORMS = {0x066B: ".", 0xFF0E: ".", 0xFF0C: ",", 0xFF0B: "+", 0xFF0D: "-", 0x2212: "-"}
_UTF8_BOM = b"\xef\xbb\xbf"
_PERFORMANCE_WORD = re.compile(b"|".join(name.encode() for name in PERFORMANCE_COLUMNS), re.IGNORECASE)
_HEADER_GAPS = re.compile(r"[\s_.\-]+")  # what may part a header's words (str.split's blanks, no-break spaces too)
# Excel's first line naming the field separator (`sep=;`), written by some exports and read by Excel.
_SEPARATOR_LINE = re.compile(r"sep=([,;\t])[ ]*(?:\r\n|\r|\n|$)")


class ManifestError(ValueError):
    """The manifest as a whole is unusable (missing file, no URL column)."""


@dataclass(frozen=True)
class ManifestRow:
    line: int  # 1-based line in the file, header = 1
    url: str
    performance: float | None
    external_id: str = ""
    error: str = ""


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; ManifestError unless it is a regular file or a pipe (a FIFO, `<(command)`) of at most
    `max_bytes` bytes. Opened without blocking, so that a device or socket is refused at once; a pipe is read as its
    writer writes, until it closes (a FIFO nobody has opened yet waits for its writer, as `cat` does)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode):
        raw = _read_pipe(fd, path, max_bytes)
    elif not stat.S_ISREG(mode):
        os.close(fd)
        hint = f": give the CSV file in it, such as {_csv_in(path)}" if stat.S_ISDIR(mode) and _csv_in(path) else ""
        kind = file_kind(mode, other="not a file")
        raise ManifestError(f"cannot read manifest {path}: not a regular file ({kind}){hint}")
    else:
        with os.fdopen(fd, "rb") as file:
            try:
                raw = file.read(max_bytes + 1)  # the size is read, not trusted: the file may be growing
            except OSError as exc:
                raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise ManifestError(f"manifest {path} is larger than the limit of {max_bytes:,} bytes "
                            f"(INFLUENCERS_MAX_MANIFEST_BYTES); split it into several")
    return raw


def _read_pipe(fd: int, path: Path, max_bytes: int) -> bytes:
    """What a pipe's writer writes until it closes its end (at most `max_bytes` + 1 bytes: more is refused by
    the caller). The descriptor is non-blocking: select() waits for bytes, or for the end of a writer that has
    been (a FIFO no writer has opened yet is not at its end: it waits for one). Closes `fd`."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= max_bytes:
            select.select([fd], [], [])
            try:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            except BlockingIOError:  # woken with nothing to read (another reader of the FIFO took it)
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def _csv_in(folder: Path) -> Path | None:
    """The CSV file a folder given as the manifest likely holds (a corpus folder: its manifest.csv)."""
    named = folder / "manifest.csv"
    return named if named.is_file() else next(iter(sorted(folder.glob("*.csv"))), None)

    return "not a file"


# A spreadsheet or archive given where a CSV is expected, by its first bytes: what it is, what to do.
_EXPORT = "export it as CSV (in Excel: File > Save As > CSV UTF-8)"
_NOT_CSV = ((b"PK\x03\x04", "a ZIP file (an Excel .xlsx or OpenDocument workbook?)", _EXPORT),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", _EXPORT),
            (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip)"),
            (b"%PDF-", "a PDF document", _EXPORT))


def _not_csv(raw: bytes, path: Path) -> None:
    """ManifestError for a file that is no text at all: a workbook, an archive, a binary file. Its header
    shown as text would fill the terminal with control bytes and say only that a column is missing."""
    kind, advice = next(((name, advice) for magic, name, advice in _NOT_CSV if raw.startswith(magic)),
                        (None, _EXPORT))
    if kind is None and _bom_encoding(raw) is None and _utf16_without_bom(raw) is None and b"\x00" in raw[:4096]:
        kind = "a binary file"
        if _reads_as_text(raw[:4096].replace(b"\x00", b""), "utf-8"):
            # Text but for its NUL bytes (a damaged export): where the first is, as one past the first 4 KB is said.
            line = raw[:raw.index(b"\x00")].count(b"\n") + 1
            kind = f"a binary file (a NUL byte on line {line}, in a file otherwise text)"
    if kind is not None:
        raise ManifestError(f"manifest {path} is {kind}, not a CSV file: {advice}")


# Byte order marks of the encodings whose text holds zero bytes, UTF-32's first: its little-endian mark starts as
# UTF-16's does.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
         (b"\xff\xfe", "utf-16", "UTF-16"), (b"\xfe\xff", "utf-16", "UTF-16"))


def _bom_encoding(raw: bytes) -> tuple[str, str] | None:
    """The codec and the name of the encoding whose byte order mark `raw` starts with (UTF-32 or UTF-16), else None."""
    return next(((codec, name) for bom, codec, name in _BOMS if raw.startswith(bom)), None)


def _utf16_without_bom(raw: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when `raw` reads as UTF-16 text written without a byte order mark (.NET's and
    some exporters' default), else None: its header, in ASCII, has a zero byte in every pair, on one side. Text
    mostly outside Latin (CJK names and links) has a zero byte only in its ASCII characters' pairs: then zero bytes
    far more often on one side than on the other, and the first 4 KB read in that order as text, with no control
    character but tabs and line breaks, no lone surrogate and no unassigned character (what binary bytes give)."""
    head = raw[:min(len(raw), 4096) // 2 * 2]  # whole pairs
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    if b"\x00" not in even and odd.count(0) >= 0.9 * len(odd):
        return "utf-16-le"
    if b"\x00" not in odd and even.count(0) >= 0.9 * len(even):
        return "utf-16-be"
    for encoding, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if high.count(0) >= 8 and high.count(0) > 8 * low.count(0) and _reads_as_text(head, encoding):
            return encoding
    return None


def _reads_as_text(head: bytes, encoding: str) -> bool:
    """Whether `head` (a file's first bytes, maybe cut inside a surrogate pair) decodes in `encoding` to text a CSV
    file holds: at least one line break, no control character but tab, LF and CR, nothing unassigned or lone."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return ("\n" in text or "\r" in text) and all(
        c in "\t\n\r" or unicodedata.category(c) not in ("Cc", "Cs", "Cn") for c in text)


def _decode(raw: bytes, path: Path) -> str:
    """UTF-32 or UTF-16 when it has their BOM, UTF-16 when it reads as such without one, else UTF-8 (BOM optional),
    else each export joined in the file in UTF-8 or Windows-1252 (_export_text)."""
    if marked := _bom_encoding(raw):
        codec, name = marked
        try:
            return raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise ManifestError(f"manifest {path} starts as {name} but is not: {exc.reason} at byte "
                                f"{exc.start}") from exc
    if encoding := _utf16_without_bom(raw):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ManifestError(f"manifest {path} reads as UTF-16 without a byte order mark but is not: "
                                f"{exc.reason} at byte {exc.start}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Export by export: exports joined end to end (`cat week1.csv week2.csv`) may be one in UTF-8, the other not.
        return "".join(map(_export_text, _exports(raw)))


def _exports(raw: bytes) -> list[list[bytes]]:
    """The lines of `raw` by the export they come from: a new one starts at each line after the first that starts
    with UTF-8's byte order mark or names the columns (a header: _is_header), as exports joined end to end do."""
    exports: list[list[bytes]] = []
    for line in raw.splitlines(keepends=True):
        if not exports or line.startswith(_UTF8_BOM) or _is_header_line(line):
            exports.append([])
        exports[-1].append(line)
    return exports


def _is_header_line(line: bytes) -> bool:
    """Whether the bytes of `line` name a URL and a performance column (in ASCII, as every header's names are),
    split at any of the separators a manifest may use."""
    if not _PERFORMANCE_WORD.search(line):  # rows seldom hold one: a cheap look first
        return False
    cells = re.split(r"[,;\t]", line.removeprefix(_UTF8_BOM).decode("latin-1"))
    return _is_header([cell.strip().strip('"') for cell in cells])


def _export_text(lines: list[bytes]) -> str:
    """One export's lines in one encoding, its BOM dropped: UTF-8 when all are, else Windows-1252 (Excel's "CSV
    (Comma delimited)" on Windows: its dashes, curly quotes and euro sign are bytes 0x80-0x9F, which Latin-1 reads as
    control characters), a line by Latin-1 when it holds a byte Windows-1252 leaves undefined. Never line by line:
    a Windows-1252 line's bytes may happen to be UTF-8 (`ß™` is DF 99, an N'Ko letter in UTF-8)."""
    lines = [lines[0].removeprefix(_UTF8_BOM), *lines[1:]]  # a BOM is no text, whatever follows it
    raw = b"".join(lines)
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return "".join(map(_windows_text, lines))


def _windows_text(line: bytes) -> str:
    """A line of an export that is not UTF-8: Windows-1252, else Latin-1."""
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _folded(cell: str) -> str:
    """A header cell as its letters: case, blanks, no-break spaces, `_`, `-` and `.` between words, and a byte order
    mark (the second file's, in exports joined end to end) do not matter: `Video URL`, `video_url`, `Video-URL` and
    `VideoURL` are one name (was: the last two refused as no 'Video URL' column)."""
    return "".join(_HEADER_GAPS.split(cell.replace("\ufeff", "").lower()))


def _column(header: list[str], names: tuple[str, ...], label: str, path: Path) -> int | None:
    """The index of the first of `names` the header has (its cells read as their words: case, blanks and
    no-break spaces do not matter), None when it has none. ManifestError when that name heads two columns:
    which one holds the values is unknown."""
    folded = [_folded(h) for h in header]
    for name in names:
        places = [k for k, h in enumerate(folded) if h == _folded(name)]
        if len(places) > 1:
            shown = ", ".join(str(k + 1) for k in places[:-1]) + f" and {places[-1] + 1}"
            raise ManifestError(f"manifest {path} has {len(places)} {label!r} columns (columns {shown}): keep one")
        if places:
            return places[0]
    return None


def _columns(header: list[str], path: Path) -> tuple[int, int, int | None]:
    """The places of the URL, performance and ID columns in `header`; ManifestError when one of the first two
    is missing or a column is named twice."""
    url_col = _column(header, URL_COLUMNS, "Video URL", path)
    perf_col = _column(header, PERFORMANCE_COLUMNS, "Performance", path)
    id_col = _column(header, ID_COLUMNS, "ID", path)
    for col, name, names in ((url_col, "Video URL", URL_COLUMNS), (perf_col, "Performance", PERFORMANCE_COLUMNS)):
        if col is None:  # what to do: every header name that is read as this column, any case
            others = ", ".join(n for n in names if n != name.lower())
            raise ManifestError(f"manifest {path} has no '{name}' column (columns: {_shown(', '.join(header))}): "
                                f"head that column '{name}' (or {others})")
    return url_col, perf_col, id_col


def _is_header(row: list[str]) -> bool:
    """Whether `row` names a URL and a performance column, as a header does (no video's row can). Asked of every
    row: the names are folded once (_FOLDED_URL_NAMES), and a row with no cell folding to a performance name is
    told at its first look (was: 9 foldings a row, 40% of the reading of a million-row manifest)."""
    folded = {_folded(cell) for cell in row}
    return not (folded.isdisjoint(_FOLDED_PERFORMANCE_NAMES) or folded.isdisjoint(_FOLDED_URL_NAMES))


_FOLDED_URL_NAMES = frozenset(map(_folded, URL_COLUMNS))
_FOLDED_PERFORMANCE_NAMES = frozenset(map(_folded, PERFORMANCE_COLUMNS))


def _holds_a_number(row: list[str], delimiter: str) -> bool:
    """Whether a cell of `row` reads as a number. A row whose performance cell does is a video's, never a header
    further down: a row naming `Video` and `Engagement` in columns of its own (a content type, a KPI) was taken for
    one, and itself and the rows after it were lost or read by the wrong columns."""
    return any(_read_number(_ascii_digits(text), delimiter != ",")[0] is not None
               for text in map(unpadded, row) if text and len(text) <= MAX_NUMBER_CHARS)


def parse_performance(cell: str, delimiter: str = ",") -> tuple[float | None, str]:
    """The score in `cell` and "" , or None and why not (see the module docstring for the rule).
    `delimiter` is the file's field separator: `;` and tab files may use decimal commas."""
    text = unpadded(cell)
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not text:
        return None, "performance is missing"
    if len(text) > MAX_NUMBER_CHARS:
        return None, f"performance {shown!r} has too many digits (more than {MAX_NUMBER_CHARS} characters)"
    number, why = _read_number(_ascii_digits(text), decimal_comma=delimiter != ",")
    if number is None:
        return None, f"performance {shown!r} {why}"
    value = float(number)
    if value == 0 and any(c in "123456789" for c in number.lower().partition("e")[0]):
        # Under the smallest double (5e-324) float() gives 0 without a word: refused as a number beyond a double's
        # range is at the other end (1e400), never read as another number (the rule of the ambiguous ones).
        return None, (f"performance {shown!r} is too small to be held (under 5e-324, the smallest number a double "
                      "holds: it would read as 0); write 0 if 0 is meant")
    if problem := score_problem(value, shown=repr(shown)):
        return None, problem
    return value + 0.0, ""  # -0 reads as 0


def _ascii_digits(text: str) -> str:
    """`text` with its decimal digits of any script, and the separators and signs of _ASCII_FORMS, in ASCII."""
    if text.isascii():
        return text
    return "".join(_ASCII_FORMS.get(ord(c)) or (str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c)
                   for c in text)


def _read_number(text: str, decimal_comma: bool) -> tuple[str | None, str]:
    """`text` as a plain decimal for float(), or None and the reason ("is ambiguous: ...")."""
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return text, ""
    if grouped := _BLANK_THOUSANDS.fullmatch(text):
        return _read_number(text.replace(grouped.group(1), ""), decimal_comma)
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


def read_manifest(path: Path, max_bytes: int = MAX_MANIFEST_BYTES, max_rows: int = MAX_ROWS,
                  rows_setting: str = "") -> list[ManifestRow]:
    """The rows of the manifest at `path` (at most `max_bytes` bytes, `max_rows` rows that are not blank, the
    limit `rows_setting` names when given), each with its 1-based first line.
    ManifestError, naming the file, for a file that cannot be used at all (module docstring)."""
    return list(manifest_rows(path, max_bytes, max_rows, rows_setting))


def manifest_rows(path: Path, max_bytes: int = MAX_MANIFEST_BYTES, max_rows: int = MAX_ROWS,
                  rows_setting: str = "") -> Iterator[ManifestRow]:
    """read_manifest's rows one at a time, as they are read: a caller may stop at a row (a request grown past what
    one call carries, client.ingest_request) without reading the rest of a million-row file. The file is read
    and its header checked at the first row asked for; ManifestError as read_manifest, the last ("no videos")
    once the rows are over."""
    raw = _read_bytes(path, max_bytes)
    _not_csv(raw, path)
    text = _decode(raw, path)
    hint = _SEPARATOR_LINE.match(text)
    dialect = _dialect(text, hint.group(1) if hint else None)
    records = _records(text, dialect, path)
    if hint:
        next(records)  # the `sep=;` line is no header
    delimiter = dialect.delimiter
    # Blank lines before the header (an export's leading empty line) are skipped, as blank rows are.
    first_record = next((record for record in records
                         if isinstance(record[1], _Misquoted) or any(cell.strip() for cell in record[1])), None)
    if first_record is None:
        raise ManifestError(f"manifest {path} is empty")
    (first, _), header = first_record
    if isinstance(header, _Misquoted):
        raise ManifestError(f"manifest {path}: line {first}: {header.problem('')}")
    if len(header) == 1 and (other := _separator_of_header(header[0], delimiter)):
        # The sniffer, shown exports of two separators joined, may pick the second one's.
        delimiter = other
        records = _records(text[_line_start(text, first):], _named(other), path, first)
        _, header = next(records)
    url_col, perf_col, id_col = _columns(header, path)
    count = 0
    while (record := next(records, None)) is not None:
        (first, last), row = record
        if isinstance(row, _Misquoted):  # its own row fails: the quote closed, the lines after it are read as ever
            if count == max_rows:
                raise ManifestError(f"manifest {path} has more than {max_rows:,} rows (line {first}); split it "
                                    "into several")
            count += 1
            yield ManifestRow(first, "", None, "", row.problem(_column_name(header, row.column)))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) == 1 and (other := _separator_of_header(row[0], delimiter)):
            # Another export joined on, with the other separator (a French Excel's `;` after a `,` file): its
            # header and rows are read again from this line in its own. Was: each a failed row, `video URL is
            # missing (the row has 1 cell ...)`.
            delimiter = other
            records = _records(text[_line_start(text, first):], _named(other), path, first)
            continue
        if _is_header(row) and not _holds_a_number(row[perf_col:perf_col + 1], delimiter):
            # Another header further down: exports joined end to end (`cat week1.csv week2.csv`). It is no
            # video, and the rows after it are read by its columns, which may be in another order.
            header = row
            url_col, perf_col, id_col = _columns(header, path)
            continue
        if count == max_rows:
            setting = f", the limit of {rows_setting}" if rows_setting else ""
            raise ManifestError(f"manifest {path} has more than {max_rows:,} rows (line {first}{setting}); split "
                                f"it into several")
        broken = ""  # the first of the row's cells that are read to hold a line break
        for col, label in ((url_col, "video URL"), (perf_col, "performance"), (id_col, "ID")):
            if col is None or col >= len(row) or ("\n" not in row[col] and "\r" not in row[col]):
                continue
            if any(delimiter in line for line in row[col].splitlines()[1:]):
                raise ManifestError(f"manifest {path}: line {first}: a quote opened here runs on to line {last} "
                                    f"and takes the rows between into one cell; close or remove it")
            # Lines without a separator are no rows taken in: a quoted value holding a line break (a file named
            # with one). That row fails alone. A break before or after the value alone (an Alt+Enter left at the
            # end of a cell in Excel) is a blank around it, dropped as blanks are.
            if any(c in unpadded(row[col]) for c in "\r\n"):
                broken = broken or label
        count += 1
        if broken:
            yield ManifestRow(first, "", None, "", f"the {broken} holds a line break (a file named with one? "
                                                   f"rename it)")
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            # Which cells belong together is unknown: the URL is not trusted either, so nothing is recorded.
            yield ManifestRow(first, "", None, "", (
                f"{len(row)} cells but the header has {len(header)} (an unquoted comma, as in 1,5 or 1,250?); "
                f"quote the cell or drop the separator"))
            continue
        url = unpadded(row[url_col]) if url_col < len(row) else ""
        short = "" if url_col < len(row) else (
            f" (the row has {len(row)} cell{'' if len(row) == 1 else 's'}, the header {len(header)}: another "
            f"separator than {delimiter!r}?)")
        perf, error = (parse_performance(row[perf_col], delimiter) if perf_col < len(row)
                       else (None, "performance is missing"))
        ext = unpadded(row[id_col]) if id_col is not None and id_col < len(row) else ""
        if not url:
            error = "video URL is missing" + short
        yield ManifestRow(first, url, perf, ext, error)
    if not count:
        raise ManifestError(f"no videos in manifest {path}: it has a header and no rows")


def unpadded(cell: str) -> str:
    """`cell` without the blanks and the invisible format characters around it: a link or a number copied from a
    web page, a chat or a document often brings a zero-width space, a byte order mark or a direction mark along,
    which no one sees in the sheet and which made a link a local path (`file not found`) or a request for another
    one, and a score `not a number`."""
    start, end = 0, len(cell)
    while start < end and (cell[start].isspace() or unicodedata.category(cell[start]) == "Cf"):
        start += 1
    while end > start and (cell[end - 1].isspace() or unicodedata.category(cell[end - 1]) == "Cf"):
        end -= 1
    return cell[start:end]


def _dialect(text: str, separator: str | None) -> type[csv.Dialect]:
    """The CSV dialect of `text`: Excel's, with `separator` when the file names it (Excel's `sep=;` first line), else
    the one sniffed from its first 4,096 characters, else `,`. Quoting is always Excel's (RFC 4180): `"`, doubled
    inside a quoted cell. The sniffer took `'` for the quote when cells started with one (`'Rock'`, `'Tis`, an
    exported `'=` formula neutralised), and stripped or joined cells by it (`'a, b.mp4'` one cell, `'a.mp4'` read as
    `a.mp4`); and when its sample held no quote, it let a doubled `""` further down through as two quotes."""
    if separator is None:
        # Sniffing splits lines at LF only: show it LF endings, whatever the file uses. Only its separator is taken.
        sample = text[:4096].replace("\r\n", "\n").replace("\r", "\n")
        try:
            sniffed = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            return csv.excel
        # Its blanks after a separator (`1, "a.mp4"`) are kept skipped, so that a quote after one still quotes.
        return type("sniffed", (csv.excel,), {"delimiter": sniffed.delimiter,
                                              "skipinitialspace": sniffed.skipinitialspace})
    return _named(separator)


def _separator_of_header(cell: str, delimiter: str) -> str | None:
    """The separator other than `delimiter` by which the one cell `cell` is a header, else None."""
    for other in ",;\t":
        if other != delimiter and other in cell:
            cells = cell.split(other)
            if _is_header(cells) and not _holds_a_number(cells, other):
                return other
    return None


def _line_start(text: str, line: int) -> int:
    """The offset in `text` of the start of its 1-based `line`, lines ending in LF, CRLF or CR as the csv module
    counts them."""
    breaks = re.finditer(r"\r\n|\r|\n", text)
    return 0 if line == 1 else next(m.end() for k, m in enumerate(breaks, start=2) if k == line)


def _named(separator: str) -> type[csv.Dialect]:
    """Excel's dialect with `separator`."""
    return type("named", (csv.excel,), {"delimiter": separator})


def _records(text: str, dialect: type[csv.Dialect], path: Path, first: int = 1
             ) -> Iterator[tuple[tuple[int, int], list[str]]]:
    """Each CSV record with its first and last line (1-based). Any newline convention (newline="" lets
    the csv module see CR, LF and CRLF alike). ManifestError naming the line for a quote never closed,
    a cell over MAX_CELL_CHARS, or anything else the csv module refuses."""
    feed = _LineFeed(text)
    reader = csv.reader(feed, dialect, strict=True)
    before = first - 1  # lines of the file before `text`
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if not str(exc).startswith(f"'{dialect.delimiter}' expected after '\"'"):
                raise ManifestError(f"manifest {path}: line {first}: {_csv_problem(str(exc))}") from None
            # A quoted cell with text after its closing quote (`=HYPERLINK("a","b")` left unquoted, `"a.mp4"x`):
            # the quote is closed, so the record ends on this line and the next line is read as ever. This
            # record alone fails (was: the whole manifest refused, in the csv module's words).
            yield (first, before + reader.line_num), _Misquoted("".join(feed.taken), dialect)
            feed.taken.clear()
            first = before + reader.line_num + 1
            continue
        feed.taken.clear()
        if any(len(cell) > MAX_CELL_CHARS for cell in row):
            raise ManifestError(f"manifest {path}: line {first}: {_csv_problem('field larger than field limit')}")
        yield (first, before + reader.line_num), row
        first = before + reader.line_num + 1


class _Misquoted(list[str]):
    """A record the csv module refused for text after a closing quote: no cells, and where it went wrong."""

    def __init__(self, lines: str, dialect: type[csv.Dialect]) -> None:
        super().__init__()
        self.column, self.fragment = _misquoted_cell(lines, dialect.delimiter, bool(dialect.skipinitialspace))

    def problem(self, column_name: str) -> str:
        """The row's error, naming the cell (`column_name`: its header's name, or "")."""
        where = f"cell {self.column + 1}" + (f" ({column_name})" if column_name else "")
        return (f"{where} has text after its closing quote ({_shown(self.fragment, 40)}): a cell that starts with "
                "a quote must end with it; quote the whole cell and double the quotes inside it, as a spreadsheet's "
                "CSV export does")


def _misquoted_cell(lines: str, delimiter: str, skip_blanks: bool) -> tuple[int, str]:
    """The 0-based index of the cell of the record `lines` whose closing quote is followed by other text, and that
    text from the cell's start up to the next separator or line end; as the csv module reads a record (Excel's
    quoting: `""` inside a quoted cell is a quote)."""
    column, start, k, quoted, at_start = 0, 0, 0, False, True
    while k < len(lines):
        c = lines[k]
        if quoted:
            if c == '"' and lines[k + 1:k + 2] == '"':
                k += 2
                continue
            if c == '"':
                quoted = False
                after = lines[k + 1:k + 2]
                if after and after not in (delimiter, "\r", "\n"):
                    end = min((i for i in (lines.find(delimiter, k), lines.find("\n", k), lines.find("\r", k))
                               if i >= 0), default=len(lines))
                    return column, lines[start:end]
        elif c == delimiter:
            column, start, at_start = column + 1, k + 1, True
            k += 1
            continue
        elif at_start and c == '"':
            quoted = True
        elif at_start and skip_blanks and c == " ":
            k += 1
            continue
        at_start = False
        k += 1
    return column, lines[start:]


class _LineFeed:
    """The lines of `text` for the csv module (LF, CRLF or CR ends, as newline="" gives them), keeping those of the
    record being read (`taken`, cleared by the reader's caller after each record): a refused record's own text."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.taken: list[str] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line


def _column_name(header: list[str], column: int) -> str:
    """The header's name of the 0-based `column`, for a message ("" when the header has no such cell)."""
    return _shown(unpadded(header[column]), 40) if column < len(header) and unpadded(header[column]) else ""


def _csv_problem(message: str) -> str:
    """The csv module's complaint in this module's words."""
    if message.startswith("field larger than field limit"):
        return f"a cell is longer than {MAX_CELL_CHARS:,} characters"
    if message.startswith("unexpected end of data"):
        return "a quote opened here is never closed"
    if message.startswith("line contains NUL"):
        return "the line holds a NUL character (is this a spreadsheet's binary file, not CSV?)"
    return _shown(message)


def _shown(text: str, limit: int = 80) -> str:
    """`text` for a one-line message: control characters escaped, at most `limit` characters."""
    text = escaped(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
