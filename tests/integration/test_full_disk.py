"""A full disk under the data dir gives one clear error and a stopped batch, never a SIGBUS: the face store's
writes are refused while less than INFLUENCERS_MIN_FREE_BYTES is free (Edge maps its files; a mapped write
into a full filesystem kills the process), and the running service stays up."""

import contextlib
import csv
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "influencers.cli"]
MIB = 1024 * 1024
MARGIN = 32 * MIB


@pytest.fixture
def small_disk(tmpfs):
    """A 160 MiB disk."""
    return tmpfs("160m")


def fill(disk: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the disk's free space."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    try:
        with filler.open("wb") as f:
            f.write(b"\0" * max(0, free - leave))
    except OSError as exc:  # the services wrote meanwhile and the disk filled first: full, as asked
        if exc.errno != errno.ENOSPC:
            raise
    return filler


def smoke_manifest(smoke: Path, tmp_path: Path, rows: int) -> Path:
    """The first `rows` rows of the smoke corpus, as a manifest of absolute paths."""
    kept = list(csv.reader((smoke / "manifest.csv").open()))[1:1 + rows]
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as f:
        csv.writer(f).writerows([["Performance", "Video URL"], *[[s, str(smoke / u)] for s, u in kept]])
    return manifest


@contextlib.contextmanager
def serving(data: Path):
    """`influencers serve` on `data` with MARGIN kept free; yields (the process, the env an `ingest` to it needs)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFLUENCERS_MIN_FREE_BYTES": str(MARGIN),
           "INFLUENCERS_WORKERS": "1"}
    serve = subprocess.Popen([*CLI, "serve", "--data-dir", str(data), "--ingest-port", "0", "--identity-port",
                              "0", "--analytics-port", "0", "--web-port", "0", "--metrics-port", "0"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = serve.stdout.readline()
        assert line.startswith("ingest"), serve.stderr.read()[-3000:] if serve.poll() is not None else line
        ports = dict(part.split(" ") for part in line.split("  ")[:3])
        address = {name: value.rsplit(":", 1)[1] for name, value in ports.items()}
        yield serve, {**env, "INFLUENCERS_INGEST_PORT": address["ingest"],
                      "INFLUENCERS_IDENTITY_PORT": address["identity"],
                      "INFLUENCERS_ANALYTICS_PORT": address["analytics"]}
    finally:
        serve.terminate()
        serve.wait(30)


def newest_job(env: dict[str, str]):  # -> ingest_pb2.Job | None
    """The newest job of the ingest service `env` names (None: none yet)."""
    from influencers.v1 import ingest_pb2, ingest_pb2_grpc
    from services.common.rpc import open_channel

    stub = ingest_pb2_grpc.IngestServiceStub(open_channel(f"127.0.0.1:{env['INFLUENCERS_INGEST_PORT']}"))
    jobs = stub.ListJobs(ingest_pb2.ListJobsRequest(), timeout=10).jobs
    return jobs[-1] if jobs else None


def jobs_done(env: dict[str, str]) -> int:
    """The videos with an outcome in the newest job of the ingest service `env` names (0: none yet)."""
    job = newest_job(env)
    return job.done if job is not None else 0


def fill_mid_batch_then_resume(smoke: Path, small_disk: Path, tmp_path: Path, leave: int) -> str:
    """A 5-row smoke job through `influencers serve` on `small_disk`, whose disk is filled (all but `leave` bytes)
    once two videos are stored: the job stalls (`influencers ingest` ends, exit 2), its row in progress given back
    to the queue, neither failed nor counted; once space is freed the job goes on by itself (no command run again)
    and ends with every row done once, serve alive throughout. Returns what `influencers ingest` said."""
    from influencers.v1 import ingest_pb2

    manifest = smoke_manifest(smoke, tmp_path, 5)
    data = small_disk / "data"
    with serving(data) as (serve, env):
        ingest = subprocess.Popen([*CLI, "ingest", str(manifest)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=env)
        deadline = time.monotonic() + 300
        while jobs_done(env) < 2:  # the disk fills once two videos are stored
            assert ingest.poll() is None and time.monotonic() < deadline, ingest.communicate()[0][-2000:]
            time.sleep(0.2)
        filler = fill(small_disk, leave)
        said = ingest.communicate(timeout=600)[0]
        print(said[-2000:])
        said = f"exit {ingest.returncode}\n{said}"
        assert ingest.returncode == 2 and "Traceback" not in said, said
        assert "free some space: the job goes on by itself" in said, said
        assert serve.poll() is None, "serve died (a SIGBUS is exit -7)"
        stalled = newest_job(env)
        failed = stalled.statuses.get("failed", 0)
        assert failed == 0, f"{failed} row(s) in progress when the disk filled failed, not given back: {said}"
        assert stalled.state == ingest_pb2.JOB_STATE_RUNNING and stalled.stalled.startswith("disk full: "), stalled
        assert not stalled.cancel_requested, "the job waits for room, not stopped"
        done_when_full = stalled.done

        filler.unlink()  # nothing run again: the job goes on by itself, at the workers' next try (pauses up to 30 s)
        deadline = time.monotonic() + 120
        while True:  # until that try, following the job says it cannot go on, as it did
            followed = subprocess.run([*CLI, "jobs", stalled.job_id], capture_output=True, text=True, timeout=600,
                                      env=env)
            if followed.returncode != 2 or "cannot go on" not in followed.stderr or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert followed.returncode == 0, (followed.stdout + followed.stderr)[-2000:]
        ended = newest_job(env)
        assert ended.job_id == stalled.job_id and ended.state == ingest_pb2.JOB_STATE_SUCCEEDED, ended
        assert ended.done == ended.total == 5 and done_when_full < 5, (done_when_full, ended)
        assert serve.poll() is None
    out = tmp_path / "out"
    exported = subprocess.run([*CLI, "export", "--data-dir", str(data), "--out", str(out)], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert exported.returncode == 0, exported.stderr
    listed = [row for row in csv.DictReader((out / "videos.csv").open())]
    given = [u for _, u in list(csv.reader(manifest.open()))[1:]]
    assert sorted(row["video_url"] for row in listed) == sorted(given), "each row once"
    assert all(row["status"] in ("done", "duplicate") for row in listed), listed
    return said


def test_a_disk_filling_mid_batch_stalls_it_its_row_in_progress_given_back_and_it_ends_by_itself_once_space_is_freed(
        corpus, small_disk, tmp_path):
    # Before, the row in progress when the face store met its kept margin failed ("disk full: ..."), was counted,
    # and its job was cancelled: the same command had to be run again to do it.
    said = fill_mid_batch_then_resume(corpus("smoke"), small_disk, tmp_path, MARGIN // 2)
    assert "cannot go on: disk full: the disk of DATA/qdrant/edge has" in said, "it names the store that is full"


def test_a_batch_that_cannot_open_on_a_full_disk_stalls_its_job_no_row_failed_and_it_ends_by_itself_once_space_is_freed(
        corpus, small_disk, tmp_path):
    # Before, identity refusing OpenBatch failed the row taken ("disk full: ... storing a batch record refused"),
    # and the job stopped (cancelled), its other rows recorded "not processed": the same manifest had to be run
    # again once space was freed, where every other full disk gives the row back and the job goes on by itself.
    from influencers.v1 import ingest_pb2

    manifest = smoke_manifest(corpus("smoke"), tmp_path, 3)
    data = small_disk / "data"
    with serving(data) as (serve, env):
        filler = fill(small_disk, MARGIN // 2)
        got = subprocess.run([*CLI, "ingest", str(manifest)], capture_output=True, text=True, timeout=600, env=env)
        said = got.stdout + got.stderr
        print(said[-2000:])
        assert got.returncode == 2 and "Traceback" not in said, said
        assert "cannot go on: disk full: " in said and "storing a batch record refused" in said, said
        assert "free some space: the job goes on by itself" in said, said
        assert serve.poll() is None, "serve died (a SIGBUS is exit -7)"
        stalled = newest_job(env)
        assert stalled.state in (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING), stalled
        assert stalled.done == 0 and not stalled.cancel_requested, "no row failed, the job not stopped"
        filler.unlink()
        followed = subprocess.run([*CLI, "jobs", stalled.job_id], capture_output=True, text=True, timeout=600,
                                  env=env)
        deadline = time.monotonic() + 120
        while followed.returncode == 2 and "cannot go on" in followed.stderr and time.monotonic() < deadline:
            time.sleep(2)
            followed = subprocess.run([*CLI, "jobs", stalled.job_id], capture_output=True, text=True, timeout=600,
                                      env=env)
        assert followed.returncode == 0, (followed.stdout + followed.stderr)[-2000:]
        ended = newest_job(env)
        assert ended.state == ingest_pb2.JOB_STATE_SUCCEEDED and ended.done == ended.total == 3, ended
    out = tmp_path / "out"
    exported = subprocess.run([*CLI, "export", "--data-dir", str(data), "--out", str(out)], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert exported.returncode == 0, exported.stderr
    listed = list(csv.DictReader((out / "videos.csv").open()))
    given = [u for _, u in list(csv.reader(manifest.open()))[1:]]
    assert sorted(row["video_url"] for row in listed) == sorted(given), "each row once"
    assert all(row["status"] in ("done", "duplicate") for row in listed), listed


@contextlib.contextmanager
def one_person_over_grpc(settings):
    """Identity and analytics with one recorded influencer; yields (stack, identity's client, the id)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_registry import CENTRES, video
    from test_review_queue import record, someone

    from influencers.v1 import identity_pb2_grpc
    from services.common.clients import GrpcIdentity
    from services.common.rpc import open_channel
    from tests.support.following import identity_and_analytics

    with identity_and_analytics(settings) as stack:
        a = record(stack, "00000000000000c1", stack.identity.registry.assign(
            "00000000000000c1", video(someone(CENTRES["a"], 1))))
        ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(
            open_channel(f"127.0.0.1:{stack.identity.port}", "")), 30)
        yield stack, ident, a


def test_a_correction_on_a_full_disk_is_refused_as_a_full_disk_and_leaves_nothing_to_replay(settings):
    # Found by renaming with the face store's floor above the disk's free space: the correction's journal
    # record, written before its work, met the full disk outside the servicer's guard, and the caller got
    # UNKNOWN 'Exception calling application: disk full ...' instead of RESOURCE_EXHAUSTED.
    import grpc

    from services.identity import journal

    with one_person_over_grpc(settings) as (stack, ident, a):
        store = stack.identity.store
        store.min_free_bytes = 1 << 62  # no disk has that much free: every growing write is refused
        for call in (lambda: ident.rename(a, "Ann Lee"), lambda: ident.hide(a, True)):
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
            assert "disk full" in err.value.details() and "Exception calling" not in err.value.details()
        store.min_free_bytes = 0
        assert not list(store.side_records(journal.KIND)), "nothing left for the next start to replay"
        assert stack.identity.registry.names() == {}
        ident.rename(a, "Ann Lee")
        assert stack.identity.registry.names() == {a: "Ann Lee"}


def test_an_undo_on_a_full_disk_is_refused_as_a_full_disk(settings):
    # Found with the face store's free-space floor above the disk's free space: UndoCorrection mapped only a
    # missing record and a conflict, so the full disk came back as INTERNAL.
    import grpc

    with one_person_over_grpc(settings) as (stack, ident, a):
        audit_id = ident.rename(a, "Ann Lee").audit.audit_id
        stack.identity.store.min_free_bytes = 1 << 62
        with pytest.raises(grpc.RpcError) as err:
            ident.undo(audit_id)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
        assert "disk full" in err.value.details()
        stack.identity.store.min_free_bytes = 0
        ident.undo(audit_id)
        assert stack.identity.registry.names() == {}



def serve_once(data: Path) -> tuple[int, list[str], str]:
    """`influencers serve` on `data` with 32 MiB kept free: its exit code, error lines and stderr's end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFLUENCERS_MIN_FREE_BYTES": str(MARGIN)}
    got = subprocess.run([*CLI, "serve", "--data-dir", str(data), "--ingest-port", "0", "--identity-port", "0",
                          "--analytics-port", "0", "--web-port", "0", "--metrics-port", "0"],
                         capture_output=True, text=True, timeout=120, env=env)
    return (got.returncode, [line for line in got.stderr.splitlines() if line.startswith("influencers: error:")],
            got.stderr[-2000:])


def test_starting_on_a_full_disk_is_refused_as_a_full_disk_not_killed_by_sigbus(small_disk):
    # Found by starting `run` on a data dir whose disk another program had filled: opening Edge's shards
    # writes (WAL segments, index pages) into mapped files, and the process died of SIGBUS, saying nothing.
    from services.analytics.store import AnalyticsStore
    from services.common.datadir import data_dir_lock
    from services.identity.edge_store import EdgeFaceStore

    data = small_disk / "data"
    with data_dir_lock(data):  # a data dir used before: its lock file and stores there
        AnalyticsStore(data / "analytics.sqlite3").close()
        EdgeFaceStore(data / "qdrant" / "edge").close()
    fill(small_disk, 0)
    code, errors, said = serve_once(data)
    assert code == 2, f"exit {code} (a SIGBUS is -7): {said}"
    assert errors == [f"influencers: error: disk full: the disk of {data} has 0.0 MiB free, under the 32 MiB kept "
                      "free (INFLUENCERS_MIN_FREE_BYTES): starting refused; free some space and run again"], said


def test_a_new_data_dir_on_a_full_disk_is_refused_as_a_full_disk_naming_it(small_disk):
    # Found with the test above on a new data dir: writing the lock file's pid met the full disk, and the
    # line was "serve: cannot use (No space left on device)", naming nothing.
    data = small_disk / "data"
    fill(small_disk, 0)
    code, errors, said = serve_once(data)
    assert code == 2, said
    assert errors == [f"influencers: error: disk full: the disk of data dir {data} has no space left (writing its "
                      ".lock file); free some space and run again"], said


def test_a_new_face_store_whose_first_record_meets_a_full_disk_is_refused_as_a_full_disk_not_as_damaged(tmp_path):
    # Found by a first `run` with 257 MiB free: the start's check passed, making the store took 48 MiB (its
    # WALs), and its schema record met the 256 MiB kept free: "face store .../side cannot be read (disk full:
    # ...); restore DATA/qdrant/edge from a backup", of a store that had never held anything.
    from services.common.damage import DiskFull
    from services.identity.edge_store import EdgeFaceStore

    edge = tmp_path / "qdrant" / "edge"
    with pytest.raises(DiskFull) as err:
        EdgeFaceStore(edge, min_free_bytes=1 << 62)  # no disk has that much free
    assert str(err.value).startswith("disk full: ") and "storing a schema record refused" in str(err.value)
    assert "restore" not in str(err.value)
    store = EdgeFaceStore(edge)  # once there is room
    try:
        assert store.count() == 0 and store.get_side("schema", "faces") is not None
    finally:
        store.close()


def test_a_disk_filling_to_the_last_byte_mid_batch_stalls_it_naming_the_job_store_and_it_ends_once_space_is_freed(
        corpus, small_disk, tmp_path):
    # The job store's own writes meet the full disk (not only the face store's kept margin): the job stalls, the
    # CLI says so naming the store's file (was: "the ingest job store", no file), and the job goes on by itself.
    said = fill_mid_batch_then_resume(corpus("smoke"), small_disk, tmp_path, 0)
    assert said.startswith("exit 2\n"), said
    assert ("cannot go on: disk full: the ingest job store DATA/ingest/jobs.sqlite3 could not be written "
            "((sqlite3.OperationalError) database or disk is full); free some space: the job goes on by itself"
            in said), said


def test_identity_says_when_its_face_stores_own_disk_is_full_and_when_it_has_room_again_so_ingest_can_watch_it(
        settings, tmpfs):
    # A fleet's identity disk (another machine's, or a filesystem of its own under DATA/qdrant) was invisible to
    # ingest: a job stalled on it went on only at the workers' next try, up to 30 s after space was freed. Identity
    # now answers GetRoom (a statvfs a disk), which ingest's look at the disks (ingest/room.py) asks every second.
    from influencers.v1 import identity_pb2, identity_pb2_grpc
    from services.common.rpc import open_channel
    from services.identity.process import IdentityProcess
    from services.ingest.room import ROOM_AGE_S, Room

    settings = settings.replace(min_free_bytes=MARGIN)
    settings.data_dir.mkdir(parents=True)
    disk = settings.data_dir / "qdrant"
    disk.mkdir()
    mounted = tmpfs("160m")
    subprocess.run(["mount", "--bind", str(mounted), str(disk)], check=True)
    identity = IdentityProcess(settings)
    channel = open_channel(f"127.0.0.1:{identity.port}")
    try:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        room = Room(settings.data_dir, MARGIN, stub)
        assert stub.GetRoom(identity_pb2.GetRoomRequest(), timeout=30) == identity_pb2.GetRoomResponse(has_room=True)
        assert room()
        filler = fill(disk, MARGIN // 2)
        time.sleep(ROOM_AGE_S)
        said = stub.GetRoom(identity_pb2.GetRoomRequest(), timeout=30)
        assert not said.has_room and said.refusal.startswith(f"disk full: the disk of {disk / 'edge'} has "), said
        assert "under the 32 MiB kept free (INFLUENCERS_MIN_FREE_BYTES)" in said.refusal, said
        assert not room(), "ingest sees identity's full disk, though its own data dir has room"
        filler.unlink()
        time.sleep(ROOM_AGE_S)
        assert stub.GetRoom(identity_pb2.GetRoomRequest(), timeout=30).has_room and room()
    finally:
        channel.close()
        identity.stop(1.0)
        subprocess.run(["umount", "-l", str(disk)], check=False)
