"""Killing `influencers run` with SIGKILL at several moments and running it again gives the same export as
an uninterrupted run: no lost video, no duplicated appearance, no orphaned faces."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

CLI = [sys.executable, "-m", "influencers.cli"]
PORTS = ["--ingest-port", "0", "--identity-port", "0", "--analytics-port", "0", "--metrics-port", "0"]


def run(manifest: Path, data: Path, kill_at_done: int | None = None, env: dict[str, str] | None = None,
        killed_when: Callable[[Path], bool] | None = None) -> int | None:
    """Runs the CLI to the end, or SIGKILLs it as soon as `kill_at_done` videos are recorded done (0: at
    once, during start-up), or as soon as `killed_when(data)` holds."""
    proc = subprocess.Popen([*CLI, "run", str(manifest), "--data-dir", str(data), "--no-serve", *PORTS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    if kill_at_done is None and killed_when is None:
        return proc.wait(timeout=600)
    deadline = time.monotonic() + 600
    while (not killed_when(data) if killed_when else done_videos(data) < kill_at_done) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the face workers die with it
    proc.wait()
    return None


def done_videos(data: Path) -> int:
    db = data / "analytics.sqlite3"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from videos where status = 3").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or locked mid-write
        return 0


def running_rows(data: Path) -> int:
    """Rows of the job queue taken by a worker that had started analysing their video."""
    db = data / "ingest" / "jobs.sqlite3"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from ingest_rows where state = 1 and video_id != ''").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def export(data: Path, out: Path) -> dict[str, pd.DataFrame]:
    subprocess.run([*CLI, "export", "--data-dir", str(data), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    tables = {name: pd.read_csv(out / f"{name}.csv", keep_default_na=False)
              for name in ("influencers", "appearances", "videos")}
    return tables


def canonical(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """The export with influencer ids replaced by the set of videos each appears in (ids are derived from
    whichever video founded an influencer, which depends on timing)."""
    app = tables["appearances"]
    members = app.groupby("influencer_id").video_url.apply(lambda s: tuple(sorted(s)))
    inf = tables["influencers"].assign(members=lambda d: d.influencer_id.map(members))
    return {
        "videos": tables["videos"].sort_values("video_url").reset_index(drop=True).to_dict("records"),
        "appearances": sorted((r.video_url, members[r.influencer_id]) for r in app.itertuples()),
        "influencers": sorted((r.members, r.videos, round(r.avg_performance, 9)) for r in inf.itertuples()),
    }


@pytest.mark.slow
def test_a_run_killed_at_any_moment_resumes_to_the_same_export(corpus, tmp_path):
    manifest = corpus("smoke") / "manifest.csv"
    assert run(manifest, tmp_path / "clean") == 0
    clean = canonical(export(tmp_path / "clean", tmp_path / "clean_report"))

    resumed = tmp_path / "resumed"
    partial = []
    for at in (0, 1, 4, 9):
        run(manifest, resumed, kill_at_done=at)
        partial.append(done_videos(resumed))
    assert any(0 < n < 12 for n in partial), f"no kill landed mid-batch (done videos after each: {partial})"
    assert run(manifest, resumed) == 0
    tables = export(resumed, tmp_path / "resumed_report")
    assert not tables["appearances"].duplicated(["video_url", "influencer_id"]).any()
    assert canonical(tables) == clean


@pytest.mark.slow
def test_a_run_killed_mid_batch_takes_the_rows_it_was_running_at_once_when_run_again(corpus, tmp_path):
    # The restarted run waited out the leases of the killed one (INFLUENCERS_JOB_LEASE_S) before those rows
    # ran again, though on one machine nothing else can hold them. With an hour's lease, waiting hangs the run.
    manifest, data = corpus("smoke") / "manifest.csv", tmp_path / "data"
    env = {**os.environ, "INFLUENCERS_JOB_LEASE_S": "3600"}
    run(manifest, data, env=env, killed_when=lambda d: running_rows(d) > 0 and done_videos(d) > 0)
    left = running_rows(data)
    assert left > 0, "no row was running when the run was killed"
    assert run(manifest, data, env=env) == 0
    with sqlite3.connect(data / "ingest" / "jobs.sqlite3") as con:
        states = dict(con.execute("select state, count(*) from ingest_rows group by state").fetchall())
    assert 1 not in states, f"rows still held by the killed run's leases: {states} ({left} were running)"


@pytest.mark.slow
def test_a_run_killed_mid_batch_and_run_again_resumes_its_job_rather_than_queueing_a_twin(corpus, tmp_path):
    # Was: the second run queued a new job of the same rows behind the dead one, waited for the dead one to be
    # resumed and end, then ran its own, every row fetching and hashing its file again to find it counted.
    manifest, data = corpus("smoke") / "manifest.csv", tmp_path / "data"
    run(manifest, data, killed_when=lambda d: done_videos(d) > 0)
    done_before = done_videos(data)
    assert 0 < done_before < 12, f"the kill did not land mid-batch ({done_before} videos done)"
    again = subprocess.run([*CLI, "run", str(manifest), "--data-dir", str(data), "--no-serve", *PORTS],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(data / "ingest" / "jobs.sqlite3") as con:
        jobs = con.execute("select job_id, state, total, done from ingest_jobs").fetchall()
        attempts = dict(con.execute("select idx, attempts from ingest_rows").fetchall())
    assert len(jobs) == 1, f"a twin job was queued: {jobs}"
    job_id, state, total, done = jobs[0]
    assert (state, total, done) == (3, 13, 13)  # SUCCEEDED, every row of the manifest once
    assert f"job {job_id}: 13 videos (resumed: the same manifest's job left unfinished, " in again.stderr
    # The summary counts the rows done before the kill too (a row the kill caught after its record, taken again,
    # finds its video counted: "(1 counted before: not analysed again)").
    assert re.search(r"^videos: 12 done( \(\d+ counted before: not analysed again\))?, 1 duplicate$", again.stdout,
                     re.MULTILINE), again.stdout
    assert max(attempts.values()) <= 2, f"a row was run more than once again: {attempts}"
    tables = export(data, tmp_path / "report")
    videos = tables["videos"]
    assert (videos.status == "done").sum() == 12 and videos[videos.status == "done"].video_url.is_unique, videos
    assert not tables["appearances"].duplicated(["video_url", "influencer_id"]).any()


@pytest.mark.slow
def test_a_run_killed_mid_batch_then_run_on_its_edited_manifest_follows_the_job_it_left_first_then_its_own(
        corpus, tmp_path):
    # Was: the edited manifest's job (other rows, so not the dead one's to resume) was queued behind the dead job,
    # and its bar sat at 0 ("queued behind 1 job") while the dead job's rows ran unseen, and were never reported.
    smoke = corpus("smoke")
    lines = [f"{score},{smoke / url}" for score, url in
             (line.split(",") for line in (smoke / "manifest.csv").read_text().splitlines()[1:])]
    manifest, data = tmp_path / "m.csv", tmp_path / "data"
    manifest.write_text("Performance,Video URL\n" + "\n".join(lines) + "\n")
    run(manifest, data, killed_when=lambda d: done_videos(d) > 0)
    assert 0 < done_videos(data) < 12, f"the kill did not land mid-batch ({done_videos(data)} videos done)"
    # The edit: the last video's score changed, the duplicate row gone.
    last_url = lines[-2].split(",")[1]
    manifest.write_text("Performance,Video URL\n" + "\n".join(lines[:-2]) + f"\n9.5,{last_url}\n")
    again = subprocess.run([*CLI, "run", str(manifest), "--data-dir", str(data), "--no-serve", *PORTS],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(data / "ingest" / "jobs.sqlite3") as con:
        jobs = con.execute("select job_id, state, total, done from ingest_jobs order by created_s").fetchall()
    assert [(state, total, done) for _, state, total, done in jobs] == [(3, 13, 13), (3, 12, 12)], jobs
    (dead, _, _, _), (own, _, _, _) = jobs
    assert f"job {own}: 12 videos, queued behind 1 job\n" in again.stderr, again.stderr
    assert re.search(rf"job {dead} first: \d+ of 13 videos done, left unfinished by an earlier run", again.stderr)
    assert f"job {own}: this run's" in again.stderr
    summaries = re.findall(r"^videos: .*$", again.stdout, re.MULTILINE)
    assert len(summaries) == 2 and summaries[0].endswith(", 1 duplicate"), again.stdout
    assert summaries[1].startswith("videos: 12 done (12 counted before: not analysed again; 1 score changed)"), \
        again.stdout
    videos = export(data, tmp_path / "report")["videos"]
    assert (videos.status == "done").sum() == 12 and videos[videos.status == "done"].video_url.is_unique, videos
    assert videos.set_index("video_url").performance[last_url] == 9.5
