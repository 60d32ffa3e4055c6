import pytest

from services.ingest.manifest import ManifestError, read_manifest


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
