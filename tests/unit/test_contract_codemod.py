"""tools/contract_codemod.py on callers and servicers written against yesterday's contract: what each rule
writes, and that a second run changes nothing."""

import ast
import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "contract_codemod.py"
spec = importlib.util.spec_from_file_location("contract_codemod", TOOL)
codemod = importlib.util.module_from_spec(spec)
sys.modules["contract_codemod"] = codemod  # dataclasses look their module up there
spec.loader.exec_module(codemod)

OLD_SERVICER = '''\
from collections.abc import Iterator

from influencers.v1 import common_pb2, identity_pb2, identity_pb2_grpc, ingest_pb2, ingest_pb2_grpc


class Identity(identity_pb2_grpc.IdentityServiceServicer):
    def SearchFace(self, request, context):
        return identity_pb2.SearchFaceResponse()

    def GetInfluencer(self, request, context) -> identity_pb2.Influencer:
        return identity_pb2.Influencer(influencer_id=request.influencer_id)

    def RenameInfluencer(self, request, context) -> identity_pb2.Influencer:
        return self.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=request.influencer_id), context)

    def Recluster(self, request, context) -> Iterator[identity_pb2.ReclusterResponse]:
        yield from self._pages()

    def _pages(self) -> Iterator[identity_pb2.ReclusterResponse]:
        yield identity_pb2.ReclusterResponse(changed_videos=1)

    def ListReviewItems(self, request, context):
        return identity_pb2.ListReviewItemsResponse(items=[identity_pb2.ReviewItem(reason="ambiguous match")])


class Ingest(ingest_pb2_grpc.IngestServiceServicer):
    def GetJob(self, request, context) -> ingest_pb2.Job:
        return ingest_pb2.Job(job_id=request.job_id, created_s=self.created, ended_s=0.0)

    def GetVideo(self, request: common_pb2.GetVideoRequest, context) -> common_pb2.Video:
        return self.analytics.GetVideo(request)
'''

OLD_CALLER = '''\
from influencers.v1 import common_pb2, identity_pb2, ingest_pb2


def follow(stub, analytics, ident, job_id: str) -> float:
    job = stub.GetJob(ingest_pb2.GetJobRequest(job_id=job_id))
    stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=job_id))
    row = analytics.GetVideo(common_pb2.GetVideoRequest(url="a.mp4"))
    pages = list(ident.Recluster(identity_pb2.ReclusterRequest()))
    for item in ident.review():
        print(f"{item.reason}")
    return job.created_s + len(pages) + row.faces
'''


def _flat(text: str) -> str:
    """`text` without its whitespace (where a wrap breaks a line is not the point)."""
    return "".join(text.split())


def test_a_servicer_loses_its_dead_rpcs_and_answers_with_the_wrappers() -> None:
    new = codemod.rewrite(OLD_SERVICER)
    ast.parse(new)
    flat = _flat(new)
    assert "SearchFace" not in new and "def GetVideo" not in new
    assert "returnidentity_pb2.GetInfluencerResponse(influencer=identity_pb2.Influencer(" in flat
    assert ("identity_pb2.RenameInfluencerResponse(influencer=self.GetInfluencer(identity_pb2.GetInfluencerRequest("
            "influencer_id=request.influencer_id),context).influencer)") in flat
    assert "yield from (identity_pb2.ReclusterResponse(changes=_m) for _m in self._pages())" in new
    assert "def _pages(self) -> Iterator[identity_pb2.Changes]:" in new
    assert "yield identity_pb2.Changes(changed_videos=1)" in new
    assert "ReviewItem(reason=identity_pb2.REVIEW_REASON_AMBIGUOUS_MATCH)" in new
    assert ("ingest_pb2.GetJobResponse(job=ingest_pb2.Job(job_id=request.job_id, "
            "create_time=timestamp(self.created), end_time=timestamp(0.0)))") in new
    assert "-> ingest_pb2.GetJobResponse:" in new
    assert "from services.common.protoconv import timestamp\n" in new
    assert "common_pb2" not in new


def test_a_caller_unwraps_the_answers_and_reads_times_and_reasons_through_the_helpers() -> None:
    new = codemod.rewrite(OLD_CALLER)
    assert "job = stub.GetJob(ingest_pb2.GetJobRequest(job_id=job_id)).job" in new
    assert "    stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=job_id))\n" in new, "an unused answer stays as is"
    assert 'row = analytics.GetVideo(analytics_pb2.GetVideoRequest(url="a.mp4")).video' in new
    assert "pages = list((page.changes for page in ident.Recluster(identity_pb2.ReclusterRequest())))" in new
    assert 'print(f"{review_reason_word(item.reason)}")' in new
    assert "return seconds(job.create_time) + len(pages) + row.faces" in new
    assert "from influencers.v1 import analytics_pb2, identity_pb2, ingest_pb2\n" in new
    assert "from services.common.protoconv import review_reason_word, seconds\n" in new


def test_a_second_run_changes_nothing() -> None:
    for old in (OLD_SERVICER, OLD_CALLER):
        once = codemod.rewrite(old)
        assert codemod.rewrite(once) == once


def test_a_file_that_keeps_float_times_of_its_own_keeps_its_reads() -> None:
    old = "class Job:\n    created_s: float\n\n\ndef age(job: Job) -> float:\n    return job.created_s\n"
    assert codemod.rewrite(old) == old


OLD_MEDIA_TIMES = '''\
from influencers.v1 import common_pb2, identity_pb2, ingest_pb2


def frame(f) -> identity_pb2.AnalyzeVideoRequest:
    return identity_pb2.AnalyzeVideoRequest(video_id="v", timestamp_s=f.timestamp_s, span_s=1.0)


def progress(a, stages) -> ingest_pb2.WatchJobResponse:
    seen = common_pb2.Appearance(influencer_id="x", first_seen_s=a.first_seen_s, last_seen_s=a.last_seen_s,
                                 segments=[common_pb2.Segment(start_s=0.0, end_s=1.0, best_s=0.5)])
    return ingest_pb2.WatchJobResponse(video=common_pb2.Video(url="a.mp4", duration_s=9.5), appearances=[seen],
                                       stage_seconds=stages)
'''


def test_media_times_in_constructors_become_durations_through_the_helpers_and_domain_reads_stay() -> None:
    new = codemod.rewrite(OLD_MEDIA_TIMES)
    ast.parse(new)
    assert 'AnalyzeVideoRequest(video_id="v", timestamp=duration(f.timestamp_s), span=duration(1.0))' in new
    assert "first_seen=duration(a.first_seen_s), last_seen=duration(a.last_seen_s)" in new
    assert "Segment(start=duration(0.0), end=duration(1.0), best=duration(0.5))" in new
    assert 'Video(url="a.mp4", duration=duration(9.5))' in new and "stage_durations=durations(stages)" in new
    assert "from services.common.protoconv import duration, durations\n" in new
    assert codemod.rewrite(new) == new
