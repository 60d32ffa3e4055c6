"""A manifest run again with one score corrected, through the real stack and the CLI: the summary names the
video whose score changed, old -> new, and the report counts the new score, once."""

from __future__ import annotations

import json

from influencers.cli import main
from tests.integration.test_odd_media import write_faststart_mp4


def test_a_rerun_with_one_score_changed_names_that_video_old_to_new_and_counts_the_new_score_once(
        stack, tmp_path, capsys):
    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    write_faststart_mp4(tmp_path / "b.mp4", seconds=3)  # other bytes: another video
    manifest = tmp_path / "manifest.csv"
    port = ["--ingest-port", str(stack.settings.ingest_port)]
    manifest.write_text("Performance,Video URL\n1.0,a.mp4\n3.0,b.mp4\n")
    assert main(["ingest", str(manifest), *port]) == 0
    capsys.readouterr()

    manifest.write_text("Performance,Video URL\n1.5,a.mp4\n3.0,b.mp4\n")
    assert main(["ingest", str(manifest), *port]) == 0
    out = capsys.readouterr().out
    assert "videos: 2 done (2 counted before: not analysed again; 1 score changed)\n" in out
    (line,) = [s for s in out.splitlines() if "score changed:" in s]
    (a,) = [v for v in stack.store.video_frame().itertuples() if v.url == "a.mp4"]
    assert line == f"  score changed: a.mp4 (video {a.video_id}): 1 -> 1.5"

    assert main(["export", "--out", str(tmp_path / "out"), "--data-dir", str(stack.settings.data_dir)]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["overall_mean"] == (1.5 + 3.0) / 2, "the new score, counted once, the old one gone"

    # The same manifest once more: nothing changed, and the summary says nothing of scores.
    assert main(["ingest", str(manifest), *port]) == 0
    out = capsys.readouterr().out
    assert "videos: 2 done (2 counted before: not analysed again)\n" in out and "score changed" not in out


def test_a_duplicate_rows_score_changed_is_not_said_to_change_a_counted_video(stack, tmp_path, capsys):
    # The duplicate's score never counted (its video's does): its change is no news to the report.
    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    (tmp_path / "copy.mp4").write_bytes((tmp_path / "a.mp4").read_bytes())
    manifest = tmp_path / "manifest.csv"
    port = ["--ingest-port", str(stack.settings.ingest_port)]
    for rows in ("1.0,a.mp4\n", "1.0,a.mp4\n2.0,copy.mp4\n"):  # a.mp4 first: the copy is its duplicate
        manifest.write_text(f"Performance,Video URL\n{rows}")
        assert main(["ingest", str(manifest), *port]) == 0
    manifest.write_text("Performance,Video URL\n1.0,a.mp4\n2.5,copy.mp4\n")
    capsys.readouterr()
    assert main(["ingest", str(manifest), *port]) == 0
    out = capsys.readouterr().out
    assert "1 duplicate" in out and "score changed" not in out
