"""An analyst corrects while a job runs: two threads merge, rename, hide and unhide the influencers as the
smoke corpus's videos arrive. The job ends, every refusal is a clear status, and afterwards identity and
analytics agree on every video's people, every name and every hidden flag."""

from __future__ import annotations

import random
import threading

import grpc
from test_jobs import T, smoke_rows, write_manifest

from influencers.client import start_ingest, watch_job
from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc, ingest_pb2
from services.common.clients import GrpcAnalytics, GrpcIdentity
from services.common.rpc import open_channel
from tests.support.agreement import assert_analytics_agrees_with_identity

REFUSED = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}


def test_corrections_while_a_job_runs_leave_identity_and_analytics_agreeing(stack, corpus, tmp_path):
    smoke = corpus("smoke")
    s = stack.settings
    ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{s.identity_port}")), 30)
    analytics = GrpcAnalytics(analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(f"127.0.0.1:{s.analytics_port}")), 30)
    channel = open_channel(s.ingest_target)
    job = start_ingest(channel, write_manifest(tmp_path / "m.csv", smoke_rows(smoke), smoke), T)
    stop = threading.Event()
    made, failures = [], []

    def analyst(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            ids = [i.influencer_id for i in ident.influencers()]
            if len(ids) >= 2:
                a, b = rng.sample(ids, 2)
                action = rng.choice(["merge", "rename", "hide", "unhide"])
                try:
                    if action == "merge":
                        made.append(ident.merge([a, b]))
                    elif action == "rename":
                        made.append(ident.rename(a, rng.choice(["Ann", "", "Bo"])))
                    else:
                        made.append(ident.hide(a, action == "hide"))
                except grpc.RpcError as exc:
                    if exc.code() not in REFUSED:
                        failures.append(f"{action}: {exc.code().name} {exc.details()}")
            stop.wait(0.1)

    threads = [threading.Thread(target=analyst, args=(seed,)) for seed in range(2)]
    for t in threads:
        t.start()
    try:
        _, ended = watch_job(channel, job.job_id, T)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert ended.state == ingest_pb2.JOB_STATE_SUCCEEDED, ended.error
    assert failures == [] and made, "corrections went through while the job ran, or were refused clearly"

    assert_analytics_agrees_with_identity(stack, analytics)
    assert stack.store.hidden() == stack.identity.registry.store.hidden()
