import pytest

from services.ingest.manifest import ManifestError, parse_performance, read_manifest


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


@pytest.mark.parametrize("cell,value", [("1250", 1250.0), ("1250.5", 1250.5), (".5", 0.5), ("+2", 2.0),
                                        ("1.5e3", 1500.0), ("1,250", 1250.0), ("1,250.5", 1250.5),
                                        ("12,345,678", 12345678.0), ("1.250", 1.25), ("-0", 0.0)])
def test_plain_decimals_and_commas_grouping_thousands_are_read_in_a_comma_file(cell, value):
    assert parse_performance(cell, ",") == (value, "")


@pytest.mark.parametrize("cell,value", [("1,5", 1.5), ("0,125", 0.125), ("12,50", 12.5), ("1250.5", 1250.5),
                                        ("1,250.5", 1250.5), ("12,345,678", 12345678.0), ("0.250", 0.25)])
def test_a_decimal_comma_is_read_in_a_semicolon_file(cell, value):
    assert parse_performance(cell, ";") == (value, "")


@pytest.mark.parametrize("cell,delimiter", [("1,25,0", ","), ("1.250,5", ","), ("1,5", ","), ("12,50", ","),
                                            ("1,250", ";"), ("1.250", ";"), ("1.250,5", ";"), ("1,2345,6", ";"),
                                            ("1.250.000", ","), ("1,250", "\t")])
def test_a_number_with_two_readings_or_separators_out_of_rule_is_refused_as_ambiguous(cell, delimiter):
    value, error = parse_performance(cell, delimiter)
    assert value is None and error.startswith(f"performance {cell!r} is ambiguous: ")


@pytest.mark.parametrize("cell,message", [("-", "not a number"), ("1_000", "not a number"), ("1 250", "not a number"),
                                          ("12%", "not a number"), ("\uff11\uff12", "not a number"),
                                          ("inf", "not a finite"), ("-inf", "not a finite"),
                                          ("1e400", "not a finite"), ("9" * 5000, "too many digits")])
def test_what_is_no_number_a_finite_one_or_too_long_is_refused_with_a_short_message(cell, message):
    value, error = parse_performance(cell, ",")
    assert value is None and message in error and len(error) < 200


def test_semicolon_files_read_decimal_commas_and_refuse_the_ambiguous_ones_by_line(tmp_path):
    rows = read_manifest(write(tmp_path, "Video URL;Performance\na.mp4;1,5\nb.mp4;1,250\nc.mp4;2\n"))
    assert [(r.line, r.performance) for r in rows] == [(2, 1.5), (3, None), (4, 2.0)]
    assert "'1,250' is ambiguous" in rows[1].error


def test_an_unquoted_thousands_comma_that_shifts_the_cells_is_refused(tmp_path):
    (row,) = read_manifest(write(tmp_path, "Video URL,Performance\na.mp4,1,250\n"))
    assert row.performance is None and "3 cells but the header has 2" in row.error
    (row,) = read_manifest(write(tmp_path, 'Video URL,Performance\na.mp4,"1,250"\n'))
    assert row.performance == 1250.0
