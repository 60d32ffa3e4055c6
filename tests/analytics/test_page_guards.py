"""The report page against a hostile browser or network, over HTTP with a real server: DNS rebinding (Host),
writes from other origins (Origin, Referer, Fetch metadata), sign-out and restarts ending sessions, and
sign-in guesses throttled per address."""

from __future__ import annotations

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.auth import SESSION_COOKIE
from services.analytics.web.hosts import allowed_hosts, host_allowed, same_site_origin
from services.analytics.web.throttle import FailureThrottle
from services.common.settings import Settings, SettingsError
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving

MERGE = {"ids": ["inf_aaaa000001", "inf_bbbb000002"]}


def test_a_rebound_name_gets_421_before_any_session_is_made(analytics_store: AnalyticsStore) -> None:
    fake = FakeCorrections()
    with serving(create_app(analytics_store, corrections=fake)) as url:
        port = url.rsplit(":", 1)[1]
        for path in ("/", "/api/influencers.json", "/enrol", "/influencer/inf_aaaa000001/delete"):
            reply = requests.get(url + path, headers={"Host": f"attacker.example:{port}"}, timeout=5)
            assert reply.status_code == 421, path
            assert "Set-Cookie" not in reply.headers, path
            assert "inf_aaaa000001" not in reply.text and "csrf" not in reply.text.lower(), path
        assert requests.get(url + "/api/influencers.json", headers={"Host": "attacker.example"},
                            timeout=5).json()["error"].startswith("this page is not served under")
        posted = requests.post(url + "/merge", data=MERGE, headers={"Host": f"attacker.example:{port}"}, timeout=5)
        assert posted.status_code == 421 and fake.calls == []
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST", "localhost."):
            assert requests.get(url + "/", headers={"Host": host}, timeout=5).status_code == 200, host
        for host in ("", "127.0.0.1:0", "localhost:99999", "a b", "127.0.0.1.attacker.example"):
            assert requests.get(url + "/", headers={"Host": host}, timeout=5).status_code == 421, host


def test_names_given_in_allowed_hosts_are_answered(analytics_empty_store: AnalyticsStore) -> None:
    config = {"HOST": "0.0.0.0", "TOKEN": "s3cret", "ALLOWED_HOSTS": ["Report.Example.com", "10.0.0.7"]}
    with serving(create_app(analytics_empty_store, config)) as url:
        bearer = {"Authorization": "Bearer s3cret"}
        for host, status in (("report.example.com", 200), ("10.0.0.7:8080", 200), ("0.0.0.0", 421),
                             ("other.example.com", 421)):
            reply = requests.get(url + "/api/videos.json", headers={**bearer, "Host": host}, timeout=5)
            assert reply.status_code == status, host


def test_allowed_hosts_that_are_not_names_are_refused_naming_the_variable() -> None:
    assert Settings.from_env({"INFLUENCERS_ALLOWED_HOSTS": "a.example, b.example"}).allowed_host_names == \
        ["a.example", "b.example"]
    for bad in ("https://a.example", "a.example/path", "*.example", ".example"):
        with pytest.raises(SettingsError, match="INFLUENCERS_ALLOWED_HOSTS"):
            Settings.from_env({"INFLUENCERS_ALLOWED_HOSTS": bad})


def test_a_post_from_another_origin_is_refused_even_with_the_right_csrf_token(
        analytics_empty_store: AnalyticsStore) -> None:
    fake = FakeCorrections()
    with serving(create_app(analytics_empty_store, corrections=fake)) as url:
        port = int(url.rsplit(":", 1)[1])
        browser = requests.Session()
        data = {**MERGE, "csrf_token": csrf_of(browser.get(url + "/enrol", timeout=5).text)}
        for headers in ({"Origin": "http://attacker.example"}, {"Origin": "null"},
                        {"Origin": f"http://localhost:{port + 1}"},  # another service on this machine
                        {"Referer": "http://attacker.example/page"},
                        {"Sec-Fetch-Site": "cross-site"}):
            reply = browser.post(url + "/merge", data=data, headers=headers, timeout=5, allow_redirects=False)
            assert reply.status_code == 403 and "another" in reply.text, headers
        assert fake.calls == []
        for headers in ({"Origin": url},
                        {"Referer": url + "/influencer/inf_aaaa000001"},
                        {"Sec-Fetch-Site": "same-origin", "Origin": url},
                        {}):  # no browser page: the CSRF token stands alone
            reply = browser.post(url + "/merge", data=data, headers=headers, timeout=5, allow_redirects=False)
            assert reply.status_code == 303, (headers, reply.text[-300:])
        assert len(fake.calls) == 4


def test_the_origin_rules_as_pure_functions() -> None:
    names = allowed_hosts("0.0.0.0", ["report.example.com"])
    assert names == {"localhost", "127.0.0.1", "::1", "report.example.com"}
    assert host_allowed("[::1]:8080", names) and not host_allowed("::1", names)
    assert same_site_origin("https://report.example.com", "report.example.com", names)
    assert same_site_origin("https://report.example.com", "report.example.com:443", names)
    assert not same_site_origin("https://report.example.com:8443", "report.example.com", names)
    assert not same_site_origin("http://localhost:8080", "report.example.com", names)
    assert not same_site_origin("javascript:alert(1)", "localhost", names)


def _signed_in(url: str, token: str = "s3cret") -> requests.Session:
    browser = requests.Session()
    form = browser.get(url + "/signin", timeout=5).text
    reply = browser.post(url + "/signin", data={"csrf_token": csrf_of(form), "token": token}, timeout=5,
                         allow_redirects=False)
    assert reply.status_code == 303
    return browser


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_worthless(
        analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        browser = _signed_in(url)
        copied = browser.cookies[SESSION_COOKIE]
        assert requests.get(url + "/", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 200
        out = browser.post(url + "/signout", data={"csrf_token": csrf_of(browser.get(url + "/", timeout=5).text)},
                           timeout=5, allow_redirects=False)
        assert out.status_code == 303
        assert requests.get(url + "/", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 401
        assert requests.get(url + "/api/videos.json", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 401


def test_a_sign_out_on_one_replica_is_refused_by_the_other_and_after_a_restart(
        analytics_empty_store: AnalyticsStore) -> None:
    # Two page replicas on one analytics database (PostgreSQL in a fleet): the sign-out is kept there.
    one, two = (create_app(analytics_empty_store, {"TOKEN": "s3cret"}) for _ in range(2))
    with serving(one) as first, serving(two) as second:
        browser = _signed_in(first)
        copied = browser.cookies[SESSION_COOKIE]
        assert requests.get(second + "/", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 200
        browser.post(first + "/signout", data={"csrf_token": csrf_of(browser.get(first + "/", timeout=5).text)},
                     timeout=5, allow_redirects=False)
        assert requests.get(second + "/", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 401
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as restarted:
        assert requests.get(restarted + "/", cookies={SESSION_COOKIE: copied}, timeout=5).status_code == 401


def test_a_restart_with_a_new_secret_ends_every_session_and_the_same_secret_keeps_them(
        analytics_empty_store: AnalyticsStore) -> None:
    def status_after_restart(first: dict[str, str], second: dict[str, str]) -> int:
        with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret", **first})) as url:
            cookie = _signed_in(url).cookies[SESSION_COOKIE]
        with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret", **second})) as url:
            return requests.get(url + "/", cookies={SESSION_COOKIE: cookie}, timeout=5).status_code

    assert status_after_restart({"SESSION_SECRET": "one"}, {"SESSION_SECRET": "two"}) == 401
    assert status_after_restart({}, {"SESSION_SECRET": "two"}) == 401
    assert status_after_restart({"SESSION_SECRET": "one"}, {"SESSION_SECRET": "one"}) == 200  # replicas, restarts
    assert status_after_restart({}, {}) == 200  # the token alone: replicas sharing it share sessions


def test_guessing_the_token_is_throttled_per_address_with_a_clear_429(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        browser = requests.Session()
        form = csrf_of(browser.get(url + "/signin", timeout=5).text)
        statuses = [browser.post(url + "/signin", data={"csrf_token": form, "token": f"guess{n}"}, timeout=5,
                                 allow_redirects=False).status_code for n in range(12)]
        assert statuses == [401] * 10 + [429] * 2
        right = browser.post(url + "/signin", data={"csrf_token": form, "token": "s3cret"}, timeout=5,
                             allow_redirects=False)
        assert right.status_code == 429 and "too many wrong tokens" in right.text
        assert 1 <= int(right.headers["Retry-After"]) <= 60
        api = requests.get(url + "/api/videos.json", headers={"Authorization": "Bearer s3cret"}, timeout=5)
        assert api.status_code == 429 and "try again in" in api.json()["error"]


def test_a_throttled_address_may_try_again_once_its_failures_leave_the_window() -> None:
    now = [1000.0]
    throttle = FailureThrottle(limit=3, window_s=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after_s("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after_s("10.0.0.1") == 60.0 and throttle.retry_after_s("10.0.0.2") == 0
    now[0] += 59.5
    assert throttle.retry_after_s("10.0.0.1") == pytest.approx(0.5)
    now[0] += 1.0
    assert throttle.retry_after_s("10.0.0.1") == 0


def test_a_script_writes_with_its_bearer_token_and_its_session_s_csrf_token_and_not_with_the_bearer_alone(
        analytics_empty_store: AnalyticsStore) -> None:
    # docs/security.md: "A script writes as the page does".
    fake = FakeCorrections()
    config = {"HOST": "0.0.0.0", "TOKEN": "s3cret", "ALLOWED_HOSTS": ["127.0.0.1"]}
    with serving(create_app(analytics_empty_store, config, corrections=fake)) as url:
        script = requests.Session()
        script.headers["Authorization"] = "Bearer s3cret"
        alone = script.post(url + "/merge", data=MERGE, timeout=5, allow_redirects=False)
        assert alone.status_code == 403 and "CSRF" in alone.text and fake.calls == []
        token = csrf_of(script.get(url + "/enrol", timeout=5).text)
        both = script.post(url + "/merge", data=MERGE, headers={"X-CSRF-Token": token}, timeout=5,
                           allow_redirects=False)
        assert both.status_code == 303 and len(fake.calls) == 1
