"""One trace per video across the three services (loopback gRPC, the real stack), and the JSON log lines of a
video's work: the SDK's in-memory exporter stands in for the OTLP collector, a StringIO for stderr."""

import io
import json
import logging
import time

import pytest

from influencers.client import get_job, ingest_manifest, start_ingest, watch_job
from influencers.stack import start_stack
from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.logs import configure_logging
from services.common.rpc import open_channel

VIDEOS = 3
ANALYZE = "/influencers.v1.IdentityService/AnalyzeVideo"
RECORD = "/influencers.v1.AnalyticsService/RecordVideo"
RENAME = "/influencers.v1.IdentityService/RenameInfluencer"


@pytest.fixture
def json_log():
    """The process's log as JSON lines into a buffer; the root logger as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("json", "INFO", stream=buffer)
    yield buffer
    root.handlers, root.level = handlers, level


@pytest.fixture
def traced_stack(spans, settings):
    running = start_stack(settings, web=False)
    yield running
    running.stop()


def _manifest(tmp_path, corpus, broken: bool = False):
    smoke = corpus("smoke")
    rows = (smoke / "manifest.csv").read_text().splitlines()[1:VIDEOS + 1]
    lines = ["Performance,Video URL"] + [f"{perf},{smoke / url}" for perf, url in (r.split(",") for r in rows)]
    if broken:
        (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 100)
        lines.append(f"0.5,{tmp_path / 'broken.mp4'}")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_video_is_one_trace_with_spans_from_ingest_identity_and_analytics(traced_stack, spans, corpus,
                                                                                tmp_path):
    results = ingest_manifest(open_channel(traced_stack.settings.ingest_target), _manifest(tmp_path, corpus), 600)
    assert len(results) == VIDEOS and all(r.video.status == 3 for r in results)
    finished = spans.get_finished_spans()
    roots = [s for s in finished if s.name == "video"]
    assert len(roots) == VIDEOS
    assert all(s.parent is None for s in roots), "each row's span is the root of its trace"
    assert len({s.context.trace_id for s in roots}) == VIDEOS, "one trace per video"
    video_ids = {r.video.video_id for r in results}
    assert {s.attributes["influencers.video_id"] for s in roots} == video_ids
    for root in roots:
        trace = [s for s in finished if s.context.trace_id == root.context.trace_id]
        by_service = {(s.resource.attributes["service.name"], s.name) for s in trace}
        assert {("influencers-ingest", "video"), ("influencers-ingest", "fetch"), ("influencers-ingest", "decode"),
                ("influencers-ingest", ANALYZE), ("influencers-identity", ANALYZE),
                ("influencers-identity", "detect"), ("influencers-identity", "encode"),
                ("influencers-identity", "assign"), ("influencers-ingest", RECORD),
                ("influencers-analytics", RECORD), ("influencers-analytics", "record")} <= by_service
        ids = {s.context.span_id for s in trace}
        assert all(s.parent.span_id in ids for s in trace if s is not root), "every span hangs from the root"
        server = next(s for s in trace if s.name == ANALYZE and s.resource.attributes["service.name"].endswith("y"))
        assign = next(s for s in trace if s.name == "assign")
        assert assign.parent.span_id == server.context.span_id
        # The feed carries assign's context to analytics, which applies the video's change in the same trace.
        apply = applied(spans, assign)
        assert apply.resource.attributes["service.name"] == "influencers-analytics"
        assert apply.parent.span_id == assign.context.span_id
        assert apply.attributes["influencers.feed_position"] == assign.attributes["influencers.feed_position"]
        assert apply.attributes["influencers.change_kind"] == "video"


def applied(spans, assign, wait_s: float = 10.0):
    """Analytics' `apply` span of the change `assign` wrote (the follower runs apart from the job: its span
    may end a moment after the job has seen the change applied)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [s for s in spans.get_finished_spans() if s.name == "apply"
                 and s.context.trace_id == assign.context.trace_id]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.05)


def test_a_correction_s_change_is_applied_by_analytics_in_the_correction_s_trace(traced_stack, spans, corpus,
                                                                                   tmp_path):
    ingest_manifest(open_channel(traced_stack.settings.ingest_target), _manifest(tmp_path, corpus), 600)
    identity = identity_pb2_grpc.IdentityServiceStub(open_channel(traced_stack.settings.identity_target))
    person = identity.ListInfluencers(identity_pb2.ListInfluencersRequest(), timeout=60).influencers[0].influencer_id
    answer = identity.RenameInfluencer(identity_pb2.RenameInfluencerRequest(influencer_id=person, name="Ann"),
                                       timeout=60)
    rename = next(s for s in spans.get_finished_spans() if s.name == RENAME)
    apply = applied(spans, rename)
    assert apply.parent.span_id == rename.context.span_id, "a child of identity's span of the rename"
    assert apply.attributes["influencers.feed_position"] == answer.influencer.feed_position
    assert apply.attributes["influencers.change_kind"] == "correction"


def test_a_failed_row_is_logged_once_as_json_with_its_job_row_video_trace_and_reason(traced_stack, spans, json_log,
                                                                                       corpus, tmp_path):
    results = ingest_manifest(open_channel(traced_stack.settings.ingest_target),
                              _manifest(tmp_path, corpus, broken=True), 600)
    failed = [r.video for r in results if r.video.status == 4]
    assert len(failed) == 1
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    about = [x for x in lines if x["event"] == "video failed"]
    assert len(about) == 1, "a failed row is logged once"
    line = about[0]
    assert line["level"] == "warning" and line["reason"] == failed[0].error
    assert line["row"] == VIDEOS + 1 and line["video_id"] == failed[0].video_id and line["job_id"]
    root = next(s for s in spans.get_finished_spans() if s.name == "video" and s.attributes["influencers.row"] == 4)
    assert line["trace_id"] == format(root.context.trace_id, "032x")
    in_trace = {format(s.context.span_id, "016x") for s in spans.get_finished_spans()
                if s.context.trace_id == root.context.trace_id}
    assert line["span_id"] in in_trace, "the line names the span of the row's trace that logged it"
    assert not root.status.is_ok, "the failed row's trace is marked as an error"
    with_job = [x for x in lines if x.get("job_id") == line["job_id"]]
    # the job's own lines (queued, ended, the CLI's) name no row; every line that names one, a row of this job
    assert {x["row"] for x in with_job if "row" in x} <= set(range(1, VIDEOS + 2))


def test_an_idle_stack_sends_no_trace_of_the_feed_followers_polling(traced_stack, spans):
    # Before, identity's server traced every ListChanges of analytics' follower: ten root traces a second,
    # idle or not, though the client side was left untraced.
    time.sleep(1.5)
    names = [span.name for span in spans.get_finished_spans()]
    assert not [name for name in names if name.endswith("/ListChanges")], names


def test_following_a_job_makes_one_span_for_its_progress_stream_and_none_for_its_polls(traced_stack, spans,
                                                                                        tmp_path):
    # Before, every GetJob of a client following a job was a root trace of its own in ingest, part of no video.
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"Performance,Video URL\n0.5,{tmp_path / 'missing.mp4'}\n")  # fails at once
    channel = open_channel(traced_stack.settings.ingest_target)
    job = start_ingest(channel, manifest, 60)
    _, ended = watch_job(channel, job.job_id, 60)  # one progress stream, then a GetJob
    for _ in range(5):
        assert get_job(channel, job.job_id, 60).state == ended.state
    names = [span.name for span in spans.get_finished_spans()
             if span.resource.attributes["service.name"] == "influencers-ingest"]
    assert not [name for name in names if name.endswith("/GetJob")], names
    assert names.count("/influencers.v1.IngestService/WatchJob") == 1, names
