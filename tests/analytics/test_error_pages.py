"""The page's own error pages answer whatever failed: a styled page of the site, never Werkzeug's bare one."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/", 500, "Something went wrong on our side"),
    ("/influencer/inf_aaaa000001", 500, "Something went wrong on our side"),
    ("/no/such/page", 404, "There is no such page"),
])
def test_with_the_store_down_just_after_a_correction_the_error_page_is_still_the_sites(
        tmp_path: Path, path: str, status: int, says: str) -> None:
    """A correction leaves a cookie for 120 s that the next page reads its message by, from the store: when the
    store was down (a database outage), the error page read it too, failed again, and Werkzeug's bare "Internal
    Server Error" was the answer. An error page now reads nothing of a correction (the message waits for the
    next page)."""
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    client = create_app(store).test_client()
    assert client.get("/").status_code == 200
    store.close()  # the store's adapter now raises on every read, as on an outage
    client.set_cookie(DONE_COOKIE, "a" * 32)
    answer = client.get(path)
    text = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert says in text and 'class="topbar"' in text, text[:300]
    assert DONE_COOKIE not in answer.headers.get("Set-Cookie", ""), "the message is kept for the next page"
