"""The page logs each request once, at INFO: method, route (the rule, not the ids in the path), status and ms."""

import logging

from services.analytics.web import create_app


def test_each_request_of_the_page_is_one_line_with_method_route_status_and_milliseconds(analytics_store, caplog):
    client = create_app(analytics_store).test_client()
    with caplog.at_level(logging.INFO, logger="services.analytics.web.request_log"):
        client.get("/")
        client.get("/no/such/page")
        client.get("/influencer/inf_nobody")
    lines = [r for r in caplog.records if r.name == "services.analytics.web.request_log"]
    assert [(r.method, r.route, r.status) for r in lines] == [
        ("GET", "/", 200), ("GET", "(no route)", 404), ("GET", "/influencer/<influencer_id>", 404)]
    assert all(r.levelno == logging.INFO and r.ms >= 0 for r in lines)
