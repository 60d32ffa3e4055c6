"""The report page's request metrics (services/analytics/web/http_metrics.py): counted by Flask url rule and
status, never by raw path, so an id in the path or a path that matches nothing adds no label value."""

from prometheus_client import REGISTRY

from services.analytics.web import create_app


def requests(route: str, status: str) -> float:
    return REGISTRY.get_sample_value("http_requests_total", {"route": route, "status": status}) or 0.0


def timed(route: str) -> float:
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", {"route": route}) or 0.0


def test_requests_are_counted_by_url_rule_and_status_and_timed(analytics_store):
    client = create_app(analytics_store).test_client()
    before = (requests("/", "200"), timed("/"), requests("/influencer/<influencer_id>", "404"))
    assert client.get("/").status_code == 200
    assert client.get("/influencer/inf_00000000ff").status_code == 404
    assert (requests("/", "200"), timed("/"), requests("/influencer/<influencer_id>", "404")) == (
        before[0] + 1, before[1] + 1, before[2] + 1)
    routes = {s.labels["route"] for m in REGISTRY.collect() if m.name == "http_requests" for s in m.samples}
    assert not any("inf_00000000ff" in r for r in routes), "an id never becomes a label value"


def test_a_path_no_rule_matches_is_counted_as_other(analytics_store):
    client = create_app(analytics_store).test_client()
    before = requests("other", "404")
    assert client.get("/no/such/page/12345").status_code == 404
    assert requests("other", "404") == before + 1
    routes = {s.labels["route"] for m in REGISTRY.collect() if m.name == "http_requests" for s in m.samples}
    assert "/no/such/page/12345" not in routes


def test_a_request_the_token_refuses_is_counted_too(analytics_store):
    client = create_app(analytics_store, {"TOKEN": "s3cret"}).test_client()
    before = sum(requests("/api/<name>.json", status) for status in ("401", "403"))
    assert client.get("/api/influencers.json").status_code in (401, 403)
    assert sum(requests("/api/<name>.json", status) for status in ("401", "403")) == before + 1


def test_a_view_that_raises_is_counted_as_a_500_and_timed_so_the_page_errors_alert_sees_it(analytics_store):
    app = create_app(analytics_store)

    def broken():
        raise RuntimeError("a bug in a view")

    app.add_url_rule("/broken", "broken", broken)
    before = (requests("/broken", "500"), timed("/broken"))
    assert app.test_client().get("/broken").status_code == 500
    assert (requests("/broken", "500"), timed("/broken")) == (before[0] + 1, before[1] + 1)
