""""None of these are the same" answers every pair of the page "different", one correction each: the page
waits for analytics to apply the last of them only (identity's feed positions are in order), not for each
in turn. Waiting for each took 12 s for the 100 pairs of "Show less likely" on the dev corpus."""

from __future__ import annotations

from pathlib import Path

import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving

PAIRS = ["inf_aaaa000001 inf_dddd000004", "inf_cccc000003 inf_dddd000004", "inf_aaaa000001 inf_cccc000003"]


def _dismiss(tmp_path: Path, fake: FakeCorrections) -> requests.Response:
    store = AnalyticsStore(tmp_path / "a.sqlite3")
    with serving(create_app(store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/review", timeout=5).text)
        return browser.post(url + "/review/dismiss", timeout=5, allow_redirects=False,
                            data={"csrf_token": token, "pair": PAIRS})


def test_dismissing_a_page_waits_for_analytics_once_after_its_last_answer(tmp_path: Path) -> None:
    fake = FakeCorrections()
    done = _dismiss(tmp_path, fake)
    assert done.status_code == 303 and "catching_up" not in done.headers["Location"]
    assert [c[0] for c in fake.calls] == ["answer"] * 3
    assert fake.waits == [False, False, True]


def test_a_dismissal_whose_last_answer_analytics_has_not_applied_says_it_is_catching_up(tmp_path: Path) -> None:
    done = _dismiss(tmp_path, FakeCorrections(caught_up=False))
    assert done.status_code == 303 and "catching_up=1" in done.headers["Location"]
