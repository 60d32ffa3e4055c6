"""A token, when set, is required on every gRPC call (health probes excepted) and on the report page."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import AnalyticsServicer
from services.analytics.store import AnalyticsStore
from services.common.rpc import build_server, open_channel


@pytest.fixture
def guarded(tmp_path):
    store = AnalyticsStore(tmp_path / "a.sqlite3")

    def register(server):
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(store), server)
        return "influencers.v1.AnalyticsService"

    server = build_server("analytics", "127.0.0.1", 0, [register], token="s3cret")
    yield server.port
    server.stop(0)
    store.close()


def test_calls_without_the_token_are_refused(guarded):
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}"))
    with pytest.raises(grpc.RpcError) as err:
        stub.GetReport(analytics_pb2.GetReportRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_cli_refused_for_its_token_says_which_variable_carries_it(guarded, capsys):
    from influencers.cli.output import service_error

    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}"))
    with pytest.raises(grpc.RpcError) as err:
        stub.GetReport(analytics_pb2.GetReportRequest(), timeout=5)
    assert service_error("review", err.value) == 2
    line = capsys.readouterr().err.strip()  # was `... UNAUTHENTICATED: missing or wrong token`, nothing more
    assert line.startswith("influencers: error: review: the analytics service refused the token: ")
    assert "INFLUENCERS_TOKEN" in line and len(line.splitlines()) == 1


def test_calls_with_the_token_pass_and_health_needs_none(guarded):
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}", token="s3cret"))
    assert stub.GetReport(analytics_pb2.GetReportRequest(), timeout=5).videos == 0
    health = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{guarded}"))
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_a_stream_of_no_messages_without_the_token_is_refused_for_its_token_like_any_call(tmp_path):
    """An AnalyzeVideo (a stream of frames) of no frame and no token: the refusal was a unary handler, which gRPC
    answered UNIMPLEMENTED "requires exactly one request message"; every shape of call now gets UNAUTHENTICATED."""
    def register(server):
        def count(requests, context):
            return b"%d" % sum(1 for _ in requests)

        def echo(requests, context):
            yield from requests

        def repeat(request, context):
            yield from (request, request)

        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Shapes", {
            "Count": grpc.stream_unary_rpc_method_handler(count),
            "Echo": grpc.stream_stream_rpc_method_handler(echo),
            "Repeat": grpc.unary_stream_rpc_method_handler(repeat)}),))
        return "t.Shapes"

    server = build_server("shapes", "127.0.0.1", 0, [register], token="s3cret")
    try:
        bare, holder = (open_channel(f"127.0.0.1:{server.port}", token=t) for t in ("", "s3cret"))
        calls = [lambda ch: ch.stream_unary("/t.Shapes/Count")(iter([]), timeout=5),
                 lambda ch: ch.stream_unary("/t.Shapes/Count")(iter([b"a", b"b"]), timeout=5),
                 lambda ch: list(ch.stream_stream("/t.Shapes/Echo")(iter([]), timeout=5)),
                 lambda ch: list(ch.unary_stream("/t.Shapes/Repeat")(b"a", timeout=5)),
                 lambda ch: ch.unary_unary("/t.Shapes/Missing")(b"a", timeout=5)]
        for call in calls:
            with pytest.raises(grpc.RpcError) as err:
                call(bare)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert err.value.details() == "missing or wrong token"
        assert [call(holder) for call in calls[:4]] == [b"0", b"2", [], [b"a", b"a"]]
    finally:
        server.stop(0)


@pytest.mark.parametrize("sent", ["bearer s3cret", "BEARER s3cret", "Bearer  s3cret"])
def test_a_token_sent_with_its_scheme_in_another_case_or_a_blank_more_passes_on_grpc_and_the_page(
        guarded, tmp_path, sent):
    """The scheme of an Authorization value is case-insensitive (RFC 9110 11.1): `bearer TOKEN`, as curl and grpcurl
    users type it, was UNAUTHENTICATED on gRPC and 401 on the page, and counted as a wrong token there."""
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}"))
    assert stub.GetReport(analytics_pb2.GetReportRequest(), metadata=(("authorization", sent),), timeout=5).videos == 0
    for refused in ("Basic s3cret", "Bearers3cret", "s3cret", "Bearer s3cret2"):
        with pytest.raises(grpc.RpcError) as err:
            stub.GetReport(analytics_pb2.GetReportRequest(), metadata=(("authorization", refused),), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused
    from services.analytics.web import create_app

    store = AnalyticsStore(tmp_path / "page.sqlite3")
    try:
        client = create_app(store, {"TOKEN": "s3cret"}).test_client()
        assert client.get("/api/influencers.json", headers={"Authorization": sent}).status_code == 200
        assert client.get("/api/influencers.json", headers={"Authorization": "Basic s3cret"}).status_code == 401
    finally:
        store.close()


def test_binding_beyond_loopback_without_a_token_is_refused():
    with pytest.raises(ValueError, match="needs a token"):
        build_server("x", "0.0.0.0", 0, [])


# ---- the report page -----------------------------------------------------------------------------------

@pytest.fixture
def page_settings(tmp_path):
    from services.common.settings import Settings

    # Identity is never started: the page's channels connect lazily, and nothing here writes.
    return Settings(data_dir=tmp_path, web_port=0, token="s3cret", identity_port=1, analytics_port=1)


def test_the_report_page_is_served_by_waitress_and_stops(page_settings):
    import requests

    from influencers.stack import start_web

    store = AnalyticsStore(page_settings.data_dir / "a.sqlite3")
    web = start_web(page_settings, store)
    try:
        assert isinstance(web.port, int) and web.port > 0
        reply = requests.get(f"http://127.0.0.1:{web.port}/signin", timeout=5)
        assert reply.status_code == 200 and reply.headers["Server"] == "waitress"
    finally:
        web.shutdown()
        store.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{web.port}/signin", timeout=5)


def test_with_a_token_reads_and_writes_of_the_page_need_signing_in(page_settings):
    import requests

    from influencers.stack import start_web

    store = AnalyticsStore(page_settings.data_dir / "a.sqlite3")
    web = start_web(page_settings, store)
    url = f"http://127.0.0.1:{web.port}"
    try:
        assert requests.get(url + "/", timeout=5).status_code == 401
        assert requests.get(url + "/api/review.json", timeout=5).status_code == 401
        # A write without a session is refused before its CSRF token or identity is looked at.
        write = requests.post(url + "/influencer/inf_aaaa000001/delete", data={"confirm": "yes"}, timeout=5)
        assert write.status_code == 401
        assert requests.post(url + "/api/review/answer.json", json={}, timeout=5).json() == {
            "error": "missing or wrong token"}
    finally:
        web.shutdown()
        store.close()


def test_a_page_beyond_loopback_without_a_token_is_refused_before_binding(tmp_path):
    from influencers.stack import start_web
    from services.common.settings import Settings

    store = AnalyticsStore(tmp_path / "a.sqlite3")
    try:
        with pytest.raises(ValueError, match="needs INFLUENCERS_TOKEN"):
            start_web(Settings(data_dir=tmp_path, host="0.0.0.0", web_port=0), store)
    finally:
        store.close()


def test_the_page_stops_cleanly_right_after_answering_again_and_again(tmp_path):
    """A worker finishing a response wakes the server's loop as shutdown begins: no stop may fail for it."""
    import requests

    from influencers.stack import WebServer
    from services.analytics.web import create_app

    store = AnalyticsStore(tmp_path / "a.sqlite3")
    app = create_app(store)
    try:
        for _ in range(100):
            web = WebServer(app, "127.0.0.1", 0)
            for path in ("/", "/api/videos.json", "/videos"):
                assert requests.get(f"http://127.0.0.1:{web.port}{path}", timeout=5).status_code == 200
            web.shutdown()
    finally:
        store.close()
