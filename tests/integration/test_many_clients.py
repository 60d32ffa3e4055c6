"""Many clients at once against one stack while a job runs: analysts correcting through gRPC and through the
page (CSRF tokens as a browser sends them), with undos, beside readers of both. Every answer is a result or a
clear refusal, never a 5xx or INTERNAL; afterwards identity and analytics agree, every correction that
answered is audited exactly once, and every influencer's video count is its videos with appearances."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter

import grpc
import requests
from test_jobs import T, smoke_rows, write_manifest

from influencers.client import start_ingest, watch_job
from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc, ingest_pb2
from services.common.clients import GrpcAnalytics, GrpcIdentity
from services.common.rpc import open_channel
from tests.support.agreement import assert_analytics_agrees_with_identity

REFUSED = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}
AUDIT_ID = re.compile(r'name="audit_id" value="([0-9a-f]{32})"')


def table_of(listed: object) -> list[dict]:
    return listed["rows"] if isinstance(listed, dict) else listed


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def test_gRPC_and_page_clients_correcting_and_reading_during_a_job_leave_one_consistent_audited_store(
        stack, corpus, tmp_path):
    smoke = corpus("smoke")
    s = stack.settings
    base = stack.web_url.rstrip("/")
    ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{s.identity_port}")), 30)
    analytics = GrpcAnalytics(analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(f"127.0.0.1:{s.analytics_port}")), 30)
    channel = open_channel(s.ingest_target)
    rows = smoke_rows(smoke)[:8]
    job = start_ingest(channel, write_manifest(tmp_path / "m.csv", rows, smoke), T)
    stop = threading.Event()
    audited: list[str] = []  # audit ids of the corrections that answered
    failures: list[str] = []
    lock = threading.Lock()

    def ids(rng: random.Random) -> list[str]:
        return [i.influencer_id for i in ident.influencers()]

    def grpc_analyst(seed: int) -> None:
        rng, mine = random.Random(seed), []
        while not stop.is_set():
            people = ids(rng)
            if len(people) >= 2:
                a, b = rng.sample(people, 2)
                action = rng.choice(["merge", "rename", "undo"] if mine else ["merge", "rename"])
                try:
                    if action == "merge":
                        written = ident.merge([a, b])
                    elif action == "rename":
                        written = ident.rename(a, rng.choice(["Ann", "Bo", "Cy"]))
                    else:
                        written = ident.undo(mine.pop(rng.randrange(len(mine))))
                    if written.audit.audit_id:  # none when nothing changed (renamed as before, merged already)
                        with lock:
                            audited.append(written.audit.audit_id)
                        mine.append(written.audit.audit_id)
                except grpc.RpcError as exc:
                    if exc.code() not in REFUSED:
                        failures.append(f"grpc {action}: {exc.code().name} {exc.details()}")
            stop.wait(0.05)

    def page_analyst(seed: int) -> None:
        rng, mine, browser = random.Random(seed), [], requests.Session()
        token = csrf(browser.get(base + "/enrol", timeout=60).text)  # a form even before anyone is found
        while not stop.is_set():
            people = ids(rng)
            if len(people) >= 2:
                a, b = rng.sample(people, 2)
                action = rng.choice(["merge", "rename", "undo"] if mine else ["merge", "rename"])
                if action == "merge":
                    reply = browser.post(base + "/merge", data={"csrf_token": token, "ids": [a, b], "into": a},
                                         timeout=60)
                elif action == "rename":
                    reply = browser.post(f"{base}/influencer/{a}/rename",
                                         data={"csrf_token": token, "name": rng.choice(["Dee", "Eve"])}, timeout=60)
                else:
                    reply = browser.post(base + "/undo", data={"csrf_token": token, "next": "/",
                                                               "audit_id": mine.pop(rng.randrange(len(mine)))},
                                         timeout=60)
                if reply.status_code >= 500 or reply.status_code in (401, 403):
                    failures.append(f"page {action}: {reply.status_code} {reply.text[:300]}")
                elif reply.status_code == 200 and (found := AUDIT_ID.search(reply.text)):
                    with lock:
                        audited.append(found.group(1))
                    mine.append(found.group(1))
            stop.wait(0.05)

    def reader(seed: int) -> None:
        browser = requests.Session()
        paths = ["/", "/api/influencers.json", "/audit", "/videos"]
        while not stop.is_set():
            for path in paths:
                reply = browser.get(base + path, timeout=60)
                if reply.status_code != 200:
                    failures.append(f"GET {path}: {reply.status_code} {reply.text[:300]}")
            try:
                ident.influencers()
            except grpc.RpcError as exc:
                failures.append(f"grpc read: {exc.code().name} {exc.details()}")

    workers = ([threading.Thread(target=grpc_analyst, args=(k,)) for k in range(4)]
               + [threading.Thread(target=page_analyst, args=(10 + k,)) for k in range(4)]
               + [threading.Thread(target=reader, args=(20 + k,)) for k in range(4)])
    for t in workers:
        t.start()
    try:
        _, ended = watch_job(channel, job.job_id, T)
        stop.wait(3)  # corrections go on past the job's end a moment: the re-derivation after the batch too
    finally:
        stop.set()
        for t in workers:
            t.join(timeout=120)
    assert ended.state == ingest_pb2.JOB_STATE_SUCCEEDED, ended.error
    assert failures == [], failures[:10]
    assert audited, "some corrections went through"

    truth = assert_analytics_agrees_with_identity(stack, analytics)
    trail = Counter(row.audit_id for row in stack.store.audit_rows())
    assert [a for a in audited if trail[a] != 1] == [], "each correction that answered is audited once"
    done = [r["video_url"] for r in table_of(requests.get(base + "/api/videos.json", timeout=60).json())
            if r["status"] == "done"]
    assert sorted(done) == sorted({str(smoke / url) for _, url in rows}) or len(done) == len({u for _, u in rows}), \
        "every video of the manifest done once"
    listed = requests.get(base + "/api/influencers.json", timeout=60).json()
    table = table_of(listed)
    seen = Counter(a.influencer_id for v in truth for a in {x.influencer_id: x for x in truth[v]}.values())
    assert {r["influencer_id"]: r["videos"] for r in table} == {i: n for i, n in seen.items() if i in
                                                                 {r["influencer_id"] for r in table}}
    assert set(seen) <= {r["influencer_id"] for r in table} | set(stack.store.hidden())
