import codecs
import contextlib
import os
import re
import threading
from pathlib import Path

import pytest

from influencers.v1 import ingest_pb2
from services.common.scores import score_problem
from services.ingest.manifest import ManifestError, ManifestRow, parse_performance, read_manifest
from services.ingest.submission import with_scores_checked, with_userinfo_hidden


def write(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "m.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_the_marketing_export_format_is_read(tmp_path):
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n1.5,videos/a.mp4\n0.25,https://x/b.mp4\n"))
    assert [(r.url, r.performance, r.error) for r in rows] == [("videos/a.mp4", 1.5, ""),
                                                               ("https://x/b.mp4", 0.25, "")]


def test_columns_in_any_order_and_case_with_extras_and_a_bom(tmp_path):
    rows = read_manifest(write(tmp_path, "\ufeffvideo url,Notes,PERFORMANCE\na.mp4,hello,2\n"))
    assert rows[0].url == "a.mp4" and rows[0].performance == 2.0


def test_latin1_files_are_read(tmp_path):
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n1,vidéo.mp4\n", encoding="latin-1"))
    assert rows[0].url == "vidéo.mp4"


def test_a_windows_excel_export_has_its_dashes_curly_quotes_and_euro_sign_read_as_written(tmp_path):
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n1,Clip – “final” 50€.mp4\n", encoding="cp1252"))
    assert rows[0].url == "Clip – “final” 50€.mp4"


def test_a_url_pasted_with_a_zero_width_space_byte_order_mark_or_direction_mark_around_it_is_read_without_them(
        tmp_path):
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n1,\u200bhttps://cdn.example/a.mp4\u200b\n"
                                         "2, \ufeff\u200evideos/b.mp4\u2060 \n"))
    assert [r.url for r in rows] == ["https://cdn.example/a.mp4", "videos/b.mp4"]


@pytest.mark.parametrize("cell", ["\u200b1.5", "1.5\ufeff", "\u200e1.5\u200f", " \u20601.5 "])
def test_a_score_pasted_with_an_invisible_character_around_it_is_read(cell):
    assert parse_performance(cell) == (1.5, "")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_without_a_byte_order_mark_is_read_as_utf16_not_refused_as_binary(tmp_path, encoding):
    # Was: "manifest P is a binary file, not a CSV file", for text .NET and some exporters write so.
    rows = read_manifest(write(tmp_path, "Performance\tVideo URL\r\n1,5\tvidéo – a.mp4\r\n2\tb.mp4\r\n", encoding))
    assert [(r.url, r.performance) for r in rows] == [("vidéo – a.mp4", 1.5), ("b.mp4", 2.0)]


@pytest.mark.parametrize("bom,encoding", [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")])
def test_a_utf32_file_with_a_byte_order_mark_is_read_as_utf32(tmp_path, bom, encoding):
    # Was: the little-endian one read as UTF-16 (a NUL in every other character: "line contains NUL"), the
    # big-endian one refused as "a binary file".
    path = tmp_path / "m.csv"
    path.write_bytes(bom + "Performance,Video URL\r\n1.5,vidéo – 𝄞.mp4\r\n2,b.mp4\r\n".encode(encoding))
    assert [(r.url, r.performance) for r in read_manifest(path)] == [("vidéo – 𝄞.mp4", 1.5), ("b.mp4", 2.0)]


def test_a_utf32_file_cut_in_the_middle_of_a_character_is_refused_naming_utf32(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("Performance,Video URL\n1,a.mp4\n".encode("utf-32") + b"\x00")
    with pytest.raises(ManifestError, match="starts as UTF-32 but is not"):
        read_manifest(path)


@pytest.mark.parametrize("rows,urls", [
    ("1,'quoted.mp4',x\n2,b.mp4,'Rock'\n", ["'quoted.mp4'", "b.mp4"]),
    ("1,videos/O'Brien's clip.mp4,Pat O'Brien\n2,b.mp4,'Tis the season\n", ["videos/O'Brien's clip.mp4", "b.mp4"]),
    ("1,a.mp4,'=1+1\n2,'b.mp4',\n", ["a.mp4", "'b.mp4'"]),  # a cell an export neutralised with an apostrophe
])
def test_apostrophes_in_names_and_urls_are_read_as_written_never_as_quotes(tmp_path, rows, urls):
    # Was: the sniffer took ' for the quote when cells started with one, and `'quoted.mp4'` was read `quoted.mp4`.
    assert [r.url for r in read_manifest(write(tmp_path, "Performance,Video URL,Name\n" + rows))] == urls


def test_a_cell_in_apostrophes_holding_a_comma_is_two_cells_as_without_them(tmp_path):
    # Was: one cell `a, b.mp4` (quoted by the apostrophes), where `a, b.mp4` unquoted is two.
    rows = read_manifest(write(tmp_path, "Performance,Video URL,Name\n1,'a, b.mp4',x\n2,c.mp4,y\n"))
    assert "4 cells but the header has 3" in rows[0].error and rows[1].url == "c.mp4"


def test_a_doubled_quote_past_the_sniffed_sample_is_one_quote(tmp_path):
    # Was: `Clip "final"".mp4"`: no quote in the first 4,096 characters, so the sniffer said quotes are never doubled.
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n" + "1,videos/plain.mp4\n" * 300
                               + '2,"videos/Clip ""final"".mp4"\n'))
    assert rows[-1].url == 'videos/Clip "final".mp4'


def test_a_quote_after_a_blank_that_follows_every_separator_still_quotes(tmp_path):
    rows = read_manifest(write(tmp_path, 'Performance, Video URL\n2, "videos/a,b.mp4"\n'))
    assert [(r.url, r.performance) for r in rows] == [("videos/a,b.mp4", 2.0)]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_without_a_byte_order_mark_of_mostly_cjk_text_is_read_as_utf16(tmp_path, encoding):
    # Was: "a binary file": a zero byte in under 90% of its pairs (the CJK characters have none), so not UTF-16.
    rows = "".join(f"{k},動画/東京タワーの夜景と花火大会の思い出{k}.mp4\r\n" for k in range(1, 200))
    rows_read = read_manifest(write(tmp_path, "Performance,Video URL\r\n" + rows, encoding))
    assert len(rows_read) == 199 and rows_read[0].url == "動画/東京タワーの夜景と花火大会の思い出1.mp4"


def test_a_binary_file_with_zero_bytes_on_one_side_is_still_refused_as_binary(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(bytes(b for k in range(2000) for b in (k % 31, 0x0E + k % 7)))  # control characters as UTF-16
    with pytest.raises(ManifestError, match="is a binary file"):
        read_manifest(path)


def test_a_windows_1252_export_with_a_line_whose_bytes_happen_to_be_utf8_is_read_as_windows_1252_throughout(
        tmp_path):
    # `ß™` is DF 99 in Windows-1252, which is also UTF-8 (an N'Ko letter): the line was read as UTF-8, `Spaߙ Tour`.
    path = tmp_path / "m.csv"
    path.write_bytes("Performance,Video URL\n1,videos/Spaß™ Tour.mp4\n2,videos/Clip – café.mp4\n".encode("cp1252"))
    assert [r.url for r in read_manifest(path)] == ["videos/Spaß™ Tour.mp4", "videos/Clip – café.mp4"]


def test_exports_joined_end_to_end_are_each_read_in_their_own_encoding_all_through(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffPerformance,Video URL\n1,vidéo.mp4\n".encode() +
                     "Performance,Video URL\n2,videos/Spaß™ Tour.mp4\n3,Clip – café.mp4\n".encode("cp1252") +
                     "\ufeffPerformance,Video URL\n4,naïve.mp4\n".encode())
    assert [r.url for r in read_manifest(path)] == ["vidéo.mp4", "videos/Spaß™ Tour.mp4", "Clip – café.mp4",
                                                    "naïve.mp4"]


def test_a_utf8_export_joined_with_a_windows_1252_one_has_each_line_read_in_its_own_encoding(tmp_path):
    # Was: the whole file read as Windows-1252, the first export's BOM a part of its first column's name
    # ("no 'Performance' column (columns: ï»¿Performance, ...)") and its accents garbled.
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffPerformance,Video URL\n1,vidéo.mp4\n".encode() +
                     "Performance,Video URL\n2,Clip – café.mp4\n".encode("cp1252"))
    assert [(r.url, r.performance) for r in read_manifest(path)] == [("vidéo.mp4", 1.0), ("Clip – café.mp4", 2.0)]


def test_a_file_with_a_byte_windows_1252_leaves_undefined_is_still_read_as_latin1(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"Performance,Video URL\n1,vid\xe9o\x81.mp4\n")
    assert read_manifest(path)[0].url == "vid\xe9o\x81.mp4"


@pytest.mark.parametrize("cell,message", [("", "missing"), ("abc", "not a number"), ("nan", "not a finite"),
                                          ("-1", "negative")])
def test_bad_performance_is_an_error_on_its_row(tmp_path, cell, message):
    (row,) = read_manifest(write(tmp_path, f"Performance,Video URL\n{cell},a.mp4\n"))
    assert row.performance is None and message in row.error and row.line == 2


def test_a_row_without_url_is_an_error(tmp_path):
    (row,) = read_manifest(write(tmp_path, "Performance,Video URL\n1.0,\n"))
    assert "URL is missing" in row.error


def test_a_manifest_without_the_url_column_is_refused_by_name(tmp_path):
    with pytest.raises(ManifestError, match="Video URL"):
        read_manifest(write(tmp_path, "Performance,Link\n1,a\n"))


@pytest.mark.parametrize("header, said", [
    ("Performance,Link", "has no 'Video URL' column (columns: Performance, Link): head that column 'Video URL' "
                         "(or video_url, url, video)"),
    ("Video URL,Views", "has no 'Performance' column (columns: Video URL, Views): head that column 'Performance' "
                        "(or score, engagement)"),
])
def test_a_missing_column_says_which_headers_are_read_as_it(tmp_path, header, said):
    with pytest.raises(ManifestError) as err:
        read_manifest(write(tmp_path, f"{header}\n1,a\n"))
    assert str(err.value).endswith(said), str(err.value)


@pytest.mark.parametrize("cell,value", [("1250", 1250.0), ("1250.5", 1250.5), (".5", 0.5), ("+2", 2.0),
                                        ("1.5e3", 1500.0), ("1,250", 1250.0), ("1,250.5", 1250.5),
                                        ("12,345,678", 12345678.0), ("1.250", 1.25), ("-0", 0.0)])
def test_plain_decimals_and_commas_grouping_thousands_are_read_in_a_comma_file(cell, value):
    assert parse_performance(cell, ",") == (value, "")


@pytest.mark.parametrize("cell,value", [("1,5", 1.5), ("0,125", 0.125), ("12,50", 12.5), ("1250.5", 1250.5),
                                        ("1,250.5", 1250.5), ("12,345,678", 12345678.0), ("0.250", 0.25)])
def test_a_decimal_comma_is_read_in_a_semicolon_file(cell, value):
    assert parse_performance(cell, ";") == (value, "")


@pytest.mark.parametrize("cell,delimiter,value", [
    ("1\u00a0250", ",", 1250.0), ("12\u202f345\u202f678", ",", 12345678.0), ("1\u2009250.5", ",", 1250.5),
    ("1'250", ",", 1250.0), ("1\u2019250.75", ",", 1250.75), ("1\u00a0250,5", ";", 1250.5), ("-0", ",", 0.0)])
def test_thousands_grouped_as_french_or_swiss_excel_writes_them_are_read(cell, delimiter, value):
    # Was `performance '1\xa0250' is not a number` for every row of a formatted French or Swiss export.
    assert parse_performance(cell, delimiter) == (value, "")


@pytest.mark.parametrize("cell,delimiter,value", [
    ("١٢", ",", 12.0), ("۱۲", ",", 12.0), ("१२", ",", 12.0), ("１２", ",", 12.0), ("١٢", ";", 12.0),
    ("٣٫٥", ",", 3.5), ("١٬٢٥٠", ",", 1250.0), ("１２．５", ",", 12.5), ("٣,٥", ";", 3.5),
])
def test_digits_of_another_script_are_read_as_the_number_they_write(cell, delimiter, value):
    """Arabic-Indic, Persian, Devanagari and full-width digits, and Arabic's own decimal and thousands separators:
    before, `performance '١٢' is not a number` on every row of a sheet typed in those locales."""
    assert parse_performance(cell, delimiter) == (value, "")


def test_a_typographic_minus_sign_is_read_as_a_minus_and_refused_as_negative():
    assert parse_performance("\u22121.5") == (None, "performance '\u22121.5' is negative")


@pytest.mark.parametrize("cell", ["1²", "½", "١٬٢٥", "٣,٥"])
def test_superscripts_fractions_and_other_scripts_numbers_out_of_rule_are_still_no_number(cell):
    assert parse_performance(cell)[0] is None


@pytest.mark.parametrize("cell,delimiter", [("1\u00a025", ","), ("1\u00a0250'000", ","), ("1\u00a0250,5", ","),
                                            ("1''250", ","), ("1 250", ",")])
def test_blank_or_apostrophe_groups_out_of_rule_are_no_number(cell, delimiter):
    value, error = parse_performance(cell, delimiter)
    assert value is None and ("not a number" in error or "ambiguous" in error)


@pytest.mark.parametrize("cell,delimiter", [("1,25,0", ","), ("1.250,5", ","), ("1,5", ","), ("12,50", ","),
                                            ("1,250", ";"), ("1.250", ";"), ("1.250,5", ";"), ("1,2345,6", ";"),
                                            ("1.250.000", ","), ("1,250", "\t")])
def test_a_number_with_two_readings_or_separators_out_of_rule_is_refused_as_ambiguous(cell, delimiter):
    value, error = parse_performance(cell, delimiter)
    assert value is None and error.startswith(f"performance {cell!r} is ambiguous: ")


@pytest.mark.parametrize("cell,message", [("-", "not a number"), ("1_000", "not a number"), ("1 250", "not a number"),
                                          ("12%", "not a number"), ("0x10", "not a number"),
                                          ("inf", "not a finite"), ("-inf", "not a finite"),
                                          ("1e400", "not a finite"), ("9" * 5000, "too many digits")])
def test_what_is_no_number_a_finite_one_or_too_long_is_refused_with_a_short_message(cell, message):
    value, error = parse_performance(cell, ",")
    assert value is None and message in error and len(error) < 200


def test_a_score_too_small_for_a_double_is_refused_by_its_row_not_read_as_zero(tmp_path):
    # Was: `1e-400` read as 0 without a word (float() underflows), as `1e400` is refused as not finite.
    rows = read_manifest(write(tmp_path, "Performance,Video URL\n1e-400,a.mp4\n-1E-999,b.mp4\n0.000e-400,c.mp4\n"
                                         "1e-320,d.mp4\n"))
    assert [(r.line, r.performance) for r in rows] == [(2, None), (3, None), (4, 0.0), (5, 1e-320)]
    assert rows[0].error == ("performance '1e-400' is too small to be held (under 5e-324, the smallest number a "
                             "double holds: it would read as 0); write 0 if 0 is meant")
    assert "'-1E-999' is too small to be held" in rows[1].error and not rows[2].error and not rows[3].error


def test_semicolon_files_read_decimal_commas_and_refuse_the_ambiguous_ones_by_line(tmp_path):
    rows = read_manifest(write(tmp_path, "Video URL;Performance\na.mp4;1,5\nb.mp4;1,250\nc.mp4;2\n"))
    assert [(r.line, r.performance) for r in rows] == [(2, 1.5), (3, None), (4, 2.0)]
    assert "'1,250' is ambiguous" in rows[1].error


def test_an_unquoted_thousands_comma_that_shifts_the_cells_is_refused(tmp_path):
    (row,) = read_manifest(write(tmp_path, "Video URL,Performance\na.mp4,1,250\n"))
    assert row.performance is None and "3 cells but the header has 2" in row.error
    (row,) = read_manifest(write(tmp_path, 'Video URL,Performance\na.mp4,"1,250"\n'))
    assert row.performance == 1250.0


# ---- the file as a whole: each failure is one ManifestError naming the file -------------------------

MAX_CELL_CHARS = 100_000


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_lines_ending_in_lf_crlf_or_cr_alone_are_read_alike(tmp_path, newline):
    text = newline.join(["Performance,Video URL", "1,a.mp4", "2,b.mp4", ""])
    rows = read_manifest(write(tmp_path, text))
    assert [(r.line, r.url, r.performance) for r in rows] == [(2, "a.mp4", 1.0), (3, "b.mp4", 2.0)]


def test_mixed_line_endings_in_one_file_are_read_alike(tmp_path):
    rows = read_manifest(write(tmp_path, "Performance,Video URL\r1,a.mp4\r\n2,b.mp4\n3,c.mp4"))
    assert [(r.line, r.url) for r in rows] == [(2, "a.mp4"), (3, "b.mp4"), (4, "c.mp4")]


def test_a_cell_longer_than_the_limit_is_one_error_naming_the_file_and_the_line(tmp_path):
    for size in (MAX_CELL_CHARS + 1, 5 * 1024 * 1024):  # under and over the csv module's own limit
        path = write(tmp_path, "Performance,Video URL\n1,a.mp4\n2," + "x" * size + "\n")
        with pytest.raises(ManifestError) as err:
            read_manifest(path)
        assert str(err.value) == f"manifest {path}: line 3: a cell is longer than 100,000 characters"


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read_whole(tmp_path):
    path = write(tmp_path, "Performance,Video URL\n" + "1,a.mp4\n" * 1000)
    with pytest.raises(ManifestError, match=r"larger than the limit of 4,096 bytes \(INFLUENCERS_MAX_MANIFEST"):
        read_manifest(path, max_bytes=4096)
    assert len(read_manifest(path, max_bytes=8022)) == 1000


@pytest.mark.parametrize("kind", ["folder", "/dev/zero"])
def test_a_folder_or_a_device_is_refused_at_once_as_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "m.csv"
    if kind == "folder":
        path.mkdir()
    else:
        path = Path("/dev/zero")  # reading it whole would never end
    refusals: list[ManifestError] = []

    def read() -> None:
        try:
            read_manifest(path)
        except ManifestError as exc:
            refusals.append(exc)

    # Refused at once: /dev/zero read whole would never end. (Was a bound of
    # 1 s on the time taken, which a busy machine could exceed and a read that never ends never reached.)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), f"reading {path} never ended"
    assert len(refusals) == 1 and re.search(f"cannot read manifest {path}: not a regular file", str(refusals[0]))


def test_a_folder_holding_a_manifest_is_refused_naming_the_csv_file_to_give_instead(tmp_path):
    (tmp_path / "identities.csv").write_text("id\n")
    (tmp_path / "manifest.csv").write_text("Performance,Video URL\n1,a.mp4\n")
    with pytest.raises(ManifestError, match="not a regular file \\(a folder\\): give the CSV file in it, such as "
                       + re.escape(str(tmp_path / "manifest.csv"))):
        read_manifest(tmp_path)


def test_a_utf16_file_cut_in_the_middle_of_a_character_is_refused(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("Performance,Video URL\n1,a.mp4\n".encode("utf-16") + b"\x00")
    with pytest.raises(ManifestError, match="starts as UTF-16 but is not"):
        read_manifest(path)


def test_an_unterminated_quote_is_refused_naming_the_line_it_opens_on(tmp_path):
    path = write(tmp_path, 'Performance,Video URL\n1,a.mp4\n2,"b.mp4\n3,c.mp4\n4,d.mp4\n')
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    assert str(err.value) == f"manifest {path}: line 3: a quote opened here is never closed"


def test_a_quote_closed_lines_later_inside_a_url_is_refused_naming_both_lines(tmp_path):
    path = write(tmp_path, 'Performance,Video URL\n1,"a.mp4\n2,b.mp4\n3,c.mp4"\n4,d.mp4\n')
    with pytest.raises(ManifestError, match=r"line 2: a quote opened here runs on to line 4"):
        read_manifest(path)


def test_a_quoted_note_over_several_lines_is_kept_and_later_rows_keep_their_line_numbers(tmp_path):
    rows = read_manifest(write(tmp_path, 'Performance,Video URL,Notes\n1,a.mp4,"two\nlines"\n2,b.mp4,x\n'))
    assert [(r.line, r.url, r.performance) for r in rows] == [(2, "a.mp4", 1.0), (4, "b.mp4", 2.0)]


@pytest.mark.parametrize("line", ["a.mp4,1,5", "1,5,a.mp4", "a.mp4,1,250,extra"])
def test_a_row_with_more_cells_than_the_header_is_refused_and_keys_no_phantom_url(tmp_path, line):
    rows = read_manifest(write(tmp_path, f"Video URL,Performance\n{line}\nb.mp4,2\n"))
    assert (rows[0].line, rows[0].url, rows[0].performance) == (2, "", None)
    assert "cells but the header has 2 (an unquoted comma" in rows[0].error
    assert (rows[1].line, rows[1].url, rows[1].performance, rows[1].error) == (3, "b.mp4", 2.0, "")


def test_empty_cells_after_the_last_column_are_not_extra_cells(tmp_path):
    (row,) = read_manifest(write(tmp_path, "Video URL,Performance\na.mp4,2,,\n"))
    assert (row.url, row.performance, row.error) == ("a.mp4", 2.0, "")


@pytest.mark.parametrize("text", ["Performance,Video URL\n", "Performance,Video URL\n\n,\n"])
def test_a_header_without_rows_is_refused_as_no_videos(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ManifestError, match=f"no videos in manifest {path}"):
        read_manifest(path)


# ---- one score rule at every entry ------------------------------------------------------------------

@pytest.mark.parametrize("cell,message", [("1.7e308", "too large"), ("1e200", "too large"),
                                          ("1000000000.5", "too large"), ("-5", "negative"),
                                          ("1e400", "not a finite")])
def test_a_score_outside_zero_to_a_billion_is_refused_by_its_cell(cell, message):
    value, error = parse_performance(cell, ",")
    assert value is None and error.startswith(f"performance {cell!r} is {message}")


@pytest.mark.parametrize("cell,value", [("1e9", 1e9), ("0", 0.0), ("1,000,000,000", 1e9)])
def test_scores_up_to_a_billion_are_read(cell, value):
    assert parse_performance(cell, ",") == (value, "")


@pytest.mark.parametrize("value,message", [(1.7e308, "performance 1.7e+308 is too large"),
                                           (-5.0, "performance -5 is negative"),
                                           (float("nan"), "performance nan is not a finite number"),
                                           (float("-inf"), "performance -inf is not a finite number")])
def test_the_score_rule_names_the_value_it_refuses(value, message):
    assert score_problem(value).startswith(message)
    assert score_problem(1e9) == score_problem(0.0) == score_problem(None) == ""


def test_start_ingest_rows_meet_the_same_rule_as_manifest_cells_and_fail_alone():
    request = ingest_pb2.StartIngestRequest(videos=[
        ingest_pb2.VideoSubmission(url="a.mp4", performance=1.7e308),
        ingest_pb2.VideoSubmission(url="b.mp4", performance=-5.0, line=3),
        ingest_pb2.VideoSubmission(url="c.mp4", performance=1e9),
        ingest_pb2.VideoSubmission(url="d.mp4"),
        ingest_pb2.VideoSubmission(url="e.mp4", row_error="line 6: performance is missing"),
    ])
    checked = with_scores_checked(request)
    assert [(s.url, s.HasField("performance"), s.row_error) for s in checked.videos] == [
        ("a.mp4", False, "row 1 of this submission: performance 1.7e+308 is too large (a score is at most "
                         "1,000,000,000)"),
        ("b.mp4", False, "line 3: performance -5 is negative"),
        ("c.mp4", True, ""), ("d.mp4", False, ""), ("e.mp4", False, "line 6: performance is missing"),
    ]
    assert request.videos[0].performance == 1.7e308  # the caller's request is left as it was


def test_a_start_ingest_url_padded_with_blanks_or_invisible_characters_is_read_as_a_manifest_cell_its_password_hidden():
    # Was run as a local path (` https://...: file not found`), its password kept in the job store and shown.
    urls = [" https://ann:hunter2@cdn.example/v.mp4 ", "\u200bhttps://ann:hunter2@cdn.example/v.mp4\u200e",
            "\ufeff\thttp://ann:pa/ss@cdn.example/v.mp4", " videos/a.mp4"]
    request = ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url=u, performance=1) for u in urls])
    assert [s.url for s in with_userinfo_hidden(request).videos] == [
        "https://***@cdn.example/v.mp4", "https://***@cdn.example/v.mp4", "http://***@cdn.example/v.mp4",
        "videos/a.mp4"]
    assert request.videos[0].url == urls[0]  # the caller's request is left as it was


def test_a_file_with_more_rows_than_the_limit_is_refused_at_the_first_row_over_it(tmp_path):
    path = write(tmp_path, "Performance,Video URL\n" + "1,a.mp4\n\n" * 5)
    assert len(read_manifest(path, max_rows=5)) == 5
    with pytest.raises(ManifestError, match=r"has more than 4 rows \(line 10\); split it"):
        read_manifest(path, max_rows=4)


def test_a_nul_byte_in_a_text_manifest_is_refused_naming_its_line(tmp_path):
    """Was `is a binary file` alone within the first 4 KB (past it, the line was named)."""
    path = tmp_path / "m.csv"
    path.write_bytes(b"Performance,Video URL\n1,a.mp4\n2,b\x00.mp4\n")
    with pytest.raises(ManifestError, match=r"a NUL byte on line 3, in a file otherwise text"):
        read_manifest(path)


@pytest.mark.parametrize(("start", "kind", "advice"), [
    (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP file (an Excel .xlsx", "CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "an Excel 97-2003 workbook (.xls)", "CSV UTF-8"),
    (b"\x1f\x8b\x08\x00\x00\x00", "gzip-compressed", "decompress it first"),
    (b"%PDF-1.7\n", "a PDF document", "CSV UTF-8"),
    (b"Performance,Video URL\n1,\x00\x01\x02", "a binary file", "CSV UTF-8"),
])
def test_a_workbook_archive_or_binary_file_is_named_for_what_it_is_not_as_a_missing_column(
        tmp_path, start, kind, advice):
    path = tmp_path / "export.xlsx"
    path.write_bytes(start + bytes(range(256)))
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    said = str(err.value)
    assert f"is {kind}" in said and "not a CSV file" in said and advice in said and said.isprintable()


def test_a_header_with_control_characters_is_shown_escaped(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"Perf\x01ormance,Vid\x1b[31mURL\n1,x\n")
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    assert str(err.value).isprintable() and "Vid\\x1b[31mURL" in str(err.value)


@pytest.mark.parametrize("header", ["Performance,Video URL,Performance", "performance,Video URL, PERFORMANCE "])
def test_a_column_given_twice_is_refused_naming_both_places_not_read_from_the_first(tmp_path, header):
    with pytest.raises(ManifestError, match=r"has 2 'Performance' columns \(columns 1 and 3\): keep one") as err:
        read_manifest(write(tmp_path, f"{header}\n1,a.mp4,2\n"))
    assert "m.csv" in str(err.value)


@pytest.mark.parametrize("header", ["Video-URL,Score", "VideoURL,PERFORMANCE", "video.url,Engagement",
                                    "Video_URL ,Performance", "Performance,\ufeffVideo\u00a0URL"])
def test_a_header_whose_words_are_joined_by_a_dash_a_dot_or_nothing_is_read(tmp_path, header):
    # Was: "no 'Video URL' column (columns: Video-URL, Score)" for an export spelling it so
    url_first = header.lower().startswith("video")
    rows = read_manifest(write(tmp_path, f"{header}\n" + ("a.mp4,2\n" if url_first else "2,a.mp4\n")))
    assert [(r.url, r.performance, r.error) for r in rows] == [("a.mp4", 2.0, "")]


def test_one_column_named_in_two_spellings_is_refused_as_named_twice(tmp_path):
    with pytest.raises(ManifestError, match=r"has 2 'Video URL' columns \(columns 2 and 3\): keep one"):
        read_manifest(write(tmp_path, "Performance,Video URL,video_url\n1,a.mp4,b.mp4\n"))


def test_blank_lines_before_the_header_are_skipped_and_lines_keep_their_numbers(tmp_path):
    rows = read_manifest(write(tmp_path, "\n,\n  \nPerformance,Video URL\n1,a.mp4\n"))
    assert [(r.line, r.url, r.performance) for r in rows] == [(5, "a.mp4", 1.0)]


@pytest.mark.parametrize("header", ["Performance\u00a0,Video\u00a0URL", "Performance,Video  URL",
                                    "Performance,Video\tURL"])
def test_a_header_with_no_break_or_doubled_spaces_is_read_as_its_words(tmp_path, header):
    (row,) = read_manifest(write(tmp_path, f"{header}\n1,a.mp4\n"))
    assert (row.url, row.performance) == ("a.mp4", 1.0)


@pytest.mark.parametrize("hint,text", [("sep=;", "Performance;Video URL\n1,5;a.mp4\n"),
                                       ("sep=,", "Performance,Video URL\n1.5,a.mp4\n"),
                                       ("sep=\t", "Performance\tVideo URL\n1.5\ta.mp4\n")])
def test_an_excel_separator_line_names_the_separator_and_is_not_the_header(tmp_path, hint, text):
    (row,) = read_manifest(write(tmp_path, f"{hint}\r\n{text}"))
    assert (row.line, row.url, row.performance, row.error) == (3, "a.mp4", 1.5, "")


def test_a_row_with_too_few_cells_for_the_url_column_says_how_many_it_has(tmp_path):
    (row,) = read_manifest(write(tmp_path, "Performance,Video URL\n1;a.mp4\n"))
    assert row.error == "video URL is missing (the row has 1 cell, the header 2: another separator than ','?)"


@pytest.mark.parametrize("second", ["Performance,Video URL", "\ufeffperformance , video url"])
def test_a_header_repeated_where_two_exports_were_joined_is_no_row(tmp_path, second):
    rows = read_manifest(write(tmp_path, f"Performance,Video URL\n1,a.mp4\n{second}\n2,b.mp4\n"))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [(2, "a.mp4", 1.0, ""), (4, "b.mp4", 2.0, "")]


def test_the_rows_after_a_second_header_are_read_by_its_columns_in_its_order(tmp_path):
    text = "Performance,Video URL\n1,a.mp4\nVideo URL,Notes,Performance\nb.mp4,hi,2\n"
    rows = read_manifest(write(tmp_path, text))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [(2, "a.mp4", 1.0, ""), (4, "b.mp4", 2.0, "")]


@pytest.mark.parametrize("text,rows", [
    ('Performance,Video URL\n1.5,a.mp4\nPerformance;Video URL\n2,5;b.mp4\n3;"c;d.mp4"\n',
     [(2, "a.mp4", 1.5, ""), (4, "b.mp4", 2.5, ""), (5, "c;d.mp4", 3.0, "")]),
    ('Performance;Video URL\r\n1,5;a.mp4\r\n\ufeffVideo URL,Performance,Notes\r\nb.mp4,2,"x\ny"\r\nc.mp4,3,\r\n',
     [(2, "a.mp4", 1.5, ""), (4, "b.mp4", 2.0, ""), (6, "c.mp4", 3.0, "")]),
    ("Performance,Video URL\n1.5,a.mp4\n\nPerformance\tVideo URL\n2\tb.mp4\nPerformance,Video URL\n4,e.mp4\n",
     [(2, "a.mp4", 1.5, ""), (5, "b.mp4", 2.0, ""), (7, "e.mp4", 4.0, "")]),
], ids=["comma then semicolon", "semicolon then comma", "comma, tab, comma"])
def test_exports_of_two_separators_joined_end_to_end_are_each_read_by_their_own(tmp_path, text, rows):
    """A French Excel's `;` export joined to a `,` one (`cat`): was, after the second header, every row failed
    `video URL is missing (the row has 1 cell ...)`, or the whole file refused as having no `Video URL` column
    when the sniffer took the second export's separator."""
    assert [(r.line, r.url, r.performance, r.error) for r in read_manifest(write(tmp_path, text))] == rows


def test_a_line_break_left_at_the_edge_of_a_quoted_cell_is_a_blank_around_its_value(tmp_path):
    """An Alt+Enter left at the end (or start) of an Excel cell: was `the video URL holds a line break (a file
    named with one? rename it)`, or the same for the performance, and the row failed."""
    rows = read_manifest(write(tmp_path, 'Performance,Video URL\n1,"a.mp4\n"\n"\n2.5\r\n",b.mp4\n3,"c\nd.mp4"\n'))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [
        (2, "a.mp4", 1.0, ""), (4, "b.mp4", 2.5, ""),
        (7, "", None, "the video URL holds a line break (a file named with one? rename it)")]


def test_a_row_naming_video_and_engagement_in_columns_of_its_own_is_a_row_not_a_second_header(tmp_path):
    """A content type and a KPI column holding `Video` and `Engagement`: before, such rows were taken for a
    header, lost in silence, and the rows after them read from those columns (`Image` as the URL)."""
    text = ("Performance,Video URL,Type,Metric\n1.5,a.mp4,Video,Engagement\n2,b.mp4,Video,Score\n"
            "3,c.mp4,Image,Reach\n")
    rows = read_manifest(write(tmp_path, text))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [
        (2, "a.mp4", 1.5, ""), (3, "b.mp4", 2.0, ""), (4, "c.mp4", 3.0, "")]


def test_a_header_further_down_with_a_year_as_a_column_name_is_still_a_header(tmp_path):
    text = "Performance,Video URL,2024\n1,a.mp4,7\nVideo URL,Performance,2024\nb.mp4,2,8\n"
    rows = read_manifest(write(tmp_path, text))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [(2, "a.mp4", 1.0, ""), (4, "b.mp4", 2.0, "")]


def test_a_quoted_url_holding_a_line_break_fails_its_row_alone_and_the_rows_after_are_read(tmp_path):
    """A file named with a line break, quoted as CSV allows: no rows are taken into the cell (none of its lines
    holds a separator). Before, the whole manifest was refused as a quote that runs on."""
    rows = read_manifest(write(tmp_path, 'Performance,Video URL\n1,"v/new\nline.mp4"\n2,b.mp4\n'))
    assert [(r.line, r.url, r.performance, r.error) for r in rows] == [
        (2, "", None, "the video URL holds a line break (a file named with one? rename it)"), (4, "b.mp4", 2.0, "")]


@pytest.mark.parametrize("writer_first", [True, False], ids=["writer first", "reader first"])
def test_a_fifo_written_once_is_read_to_its_writers_end(tmp_path, writer_first):
    # Was refused as "not a regular file (a FIFO)": `influencers ingest <(export-command)` could not be used
    path = tmp_path / "m.csv"
    os.mkfifo(path)
    rows: list[list[ManifestRow]] = []
    reader = threading.Thread(target=lambda: rows.append(read_manifest(path)), daemon=True)
    writer = threading.Thread(target=lambda: path.write_text("Performance,Video URL\n1,a.mp4\n2,b.mp4\n"),
                              daemon=True)
    for thread in (writer, reader) if writer_first else (reader, writer):
        thread.start()
    reader.join(30)
    writer.join(30)
    assert not reader.is_alive(), "reading the FIFO never ended"
    assert [(r.url, r.performance) for r in rows[0]] == [("a.mp4", 1.0), ("b.mp4", 2.0)]


def test_a_fifo_larger_than_the_limit_is_refused_naming_the_limit(tmp_path):
    path = tmp_path / "m.csv"
    os.mkfifo(path)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError):  # the reader stops past the limit and closes its end
            path.write_text("Performance,Video URL\n" + "1,a.mp4\n" * 2000)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with pytest.raises(ManifestError, match=r"larger than the limit of 4,096 bytes"):
        read_manifest(path, max_bytes=4096)


@pytest.mark.parametrize(("line", "error"), [
    ('1,=HYPERLINK("http://evil.example","x")', 'cell 3 has text after its closing quote ("x"))'),
    ('1,"a.mp4"x', "cell 2 (Video URL) has text after its closing quote (\"a.mp4\"x)"),
    ('"1"5,a.mp4', "cell 1 (Performance) has text after its closing quote (\"1\"5)"),
    ('1,"a ""b"" c.mp4" d', 'cell 2 (Video URL) has text after its closing quote ("a ""b"" c.mp4" d)'),
])
def test_a_cell_with_text_after_its_closing_quote_fails_its_row_alone_naming_the_cell(tmp_path, line, error):
    # An unquoted formula pasted from a sheet, a stray quote: was the whole manifest refused, in the csv module's
    # words ("line 2: ',' expected after '\"'"), so one bad row stopped the batch.
    rows = read_manifest(write(tmp_path, f"Performance,Video URL\r\n{line}\r\n2,b.mp4\r\n\"3\",\"c.mp4\"\r\n"))
    assert [(r.line, r.url, r.performance) for r in rows] == [(2, "", None), (3, "b.mp4", 2.0), (4, "c.mp4", 3.0)]
    assert rows[0].error.startswith(error) and "quote the whole cell" in rows[0].error


def test_a_quoted_formula_is_read_as_the_text_it_is_and_a_header_with_text_after_a_quote_is_refused(tmp_path):
    rows = read_manifest(write(tmp_path, 'Performance,Video URL\n1,"=HYPERLINK(""http://e.example"",""x"")"\n'))
    assert rows[0].url == '=HYPERLINK("http://e.example","x")' and rows[0].error == ""  # exports neutralise it
    with pytest.raises(ManifestError, match=r"line 1: cell 2 has text after its closing quote"):
        read_manifest(write(tmp_path, 'Performance,"Video URL"s\n1,a.mp4\n'))


def test_a_misquoted_row_spanning_lines_is_one_failed_row_and_the_line_numbers_after_it_hold(tmp_path):
    rows = read_manifest(write(tmp_path, 'Performance,Video URL\n1,"a\nb.mp4"x\n2,c.mp4\n'))
    assert [(r.line, r.url, bool(r.error)) for r in rows] == [(2, "", True), (4, "c.mp4", False)]
    assert "cell 2 (Video URL)" in rows[0].error
