"""A manifest the CLI cannot use is one line on stderr naming it, exit 2, before anything starts: never a
traceback, a MemoryError or a wait that never ends."""


import pytest
from test_cli_errors import assert_usage_error, influencers


def test_dev_zero_as_manifest_is_refused_without_reading_it(tmp_path):
    assert_usage_error(influencers("ingest", "/dev/zero"), "/dev/zero", "not a regular file (a character device)")


@pytest.mark.parametrize(("text", "words"), [
    ("Performance,Video URL\n", ("no videos in manifest",)),
    ('Performance,Video URL\n1,"a.mp4\n2,b.mp4\n', ("line 2: a quote opened here is never closed",)),
    ("Performance,Video URL\n1," + "x" * 200_000 + "\n", ("line 2: a cell is longer than 100,000 characters",)),
], ids=["header only", "unterminated quote", "huge cell"])
def test_a_manifest_without_usable_rows_is_one_line_naming_it(tmp_path, text, words):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(text)
    assert_usage_error(influencers("ingest", str(manifest)), str(manifest), *words)


def test_a_manifest_over_the_size_setting_is_one_line_naming_the_setting(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("Performance,Video URL\n" + "1,a.mp4\n" * 100)
    assert_usage_error(influencers("ingest", str(manifest), env={"INFLUENCERS_MAX_MANIFEST_BYTES": "100"}),
                       str(manifest), "larger than the limit of 100 bytes", "INFLUENCERS_MAX_MANIFEST_BYTES")


def test_run_refuses_a_manifest_over_the_job_row_limit_at_once_naming_the_setting(tmp_path):
    """Was: read whole twice, then refused by the ingest service it starts (a million rows: minutes on a busy
    machine), after the services had started."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("Performance,Video URL\n" + "".join(f"1,v{k}.mp4\n" for k in range(5)))
    result = influencers("run", str(manifest), "--data-dir", str(tmp_path / "data"),
                         env={"INFLUENCERS_MAX_JOB_ROWS": "3"})
    assert_usage_error(result, str(manifest), "has more than 3 rows (line 5, the limit of INFLUENCERS_MAX_JOB_ROWS)")
    assert not (tmp_path / "data").exists(), "refused before anything started"


def test_a_manifest_that_is_a_symlink_loop_or_a_dangling_link_is_named_so_not_as_missing(tmp_path):
    """Was `manifest P not found` for both, of a name `ls` lists."""
    (tmp_path / "a.csv").symlink_to("b.csv")
    (tmp_path / "b.csv").symlink_to("a.csv")
    (tmp_path / "gone.csv").symlink_to(tmp_path / "moved" / "week.csv")
    assert_usage_error(influencers("ingest", str(tmp_path / "a.csv")), "a.csv is a symbolic link in a loop")
    assert_usage_error(influencers("ingest", str(tmp_path / "gone.csv")),
                       f"gone.csv is a symbolic link to {tmp_path}/moved/week.csv, which does not exist")


@pytest.mark.parametrize("command", ["ingest", "run"])
def test_a_link_given_as_manifest_is_refused_with_its_password_and_token_hidden(tmp_path, command):
    # Was: "manifest https://ann:hunter2@.../m.csv not found", the password echoed to the terminal and to the logs
    link = "https://ann:hunter2@example.com/m.csv?X-Amz-Signature=feedbeef"
    result = influencers(command, link, "--data-dir", str(tmp_path / "data")) if command == "run" else \
        influencers(command, link, env={"INFLUENCERS_LOG_FORMAT": "json"})
    assert "hunter2" not in result.stderr + result.stdout and "feedbeef" not in result.stderr + result.stdout
    said = "manifest https://***@example.com/m.csv?X-Amz-Signature=*** not found: a manifest is a local CSV file"
    if command == "run":
        assert_usage_error(result, said)
    else:
        assert result.returncode == 2 and said in result.stderr, result.stderr


@pytest.mark.parametrize("argv", [
    ["export", "--data-dir", "https://ann:hunter2@example.com/d", "--out", "OUT"],
    ["eval", "--truth", "https://ann:hunter2@example.com/c?token=feedbeef", "--data-dir", "OUT"],
], ids=["--data-dir", "--truth"])
def test_a_link_given_for_a_path_is_quoted_in_the_error_with_its_password_and_token_hidden(tmp_path, argv):
    # Was echoed whole: "no data in https:/ann:hunter2@example.com/d ...", "--truth https://ann:hunter2@... holds no
    # truth.csv" (and a PHOTO, "photo 'ftp://ann:hunter2@...' not found", once the services answer)
    result = influencers(*(str(tmp_path / "out") if a == "OUT" else a for a in argv))
    assert result.returncode == 2, result.stderr
    assert "hunter2" not in result.stderr and "feedbeef" not in result.stderr, result.stderr
    assert "***@example.com" in result.stderr, result.stderr
