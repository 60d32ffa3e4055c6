"""HEAD is a read (RFC 9110 §9.3.2): the page's checks let it through like GET, without origin, CSRF or
sign-in throttling, so a view serving GET and POST must answer a HEAD as its GET, whatever body it carries.
A script (not a browser page: fetch() sends no body with HEAD) can send one; over a real server here."""

from __future__ import annotations

import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.auth import SESSION_COOKIE
from tests.analytics.test_analytics_web import FakeCorrections, serving

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64


def test_a_head_with_a_form_body_deletes_or_enrols_nobody(analytics_store: AnalyticsStore) -> None:
    """HEAD /influencer/…/delete with confirm=yes erased the person, and HEAD /enrol with a name and a photo
    enrolled one: both views took any method but GET for their POST, past the CSRF and origin checks (and, on a
    tokenless page beyond loopback, past the refusal of every write)."""
    for config in ({}, {"HOST": "0.0.0.0"}):
        fake = FakeCorrections()
        with serving(create_app(analytics_store, config, corrections=fake)) as url:
            deleted = requests.head(url + "/influencer/inf_aaaa000001/delete", data={"confirm": "yes"},
                                    headers={"Origin": "https://attacker.example"}, timeout=5, allow_redirects=False)
            enrolled = requests.head(url + "/enrol", data={"name": "Mallory"}, files={"photos": ("a.jpg", JPEG)},
                                     timeout=5, allow_redirects=False)
            assert (deleted.status_code, enrolled.status_code) == (200, 200), config
            assert fake.calls == [], config
            posted = requests.post(url + "/influencer/inf_aaaa000001/delete", data={"confirm": "yes"},
                                   headers={"Origin": "https://attacker.example"}, timeout=5, allow_redirects=False)
            assert posted.status_code == 403 and fake.calls == [], "the POST is refused as before"


def test_a_token_sent_with_head_to_the_sign_in_form_is_never_tried(analytics_empty_store: AnalyticsStore) -> None:
    """HEAD /signin with token=… in its body was checked like the form's POST but never throttled (the 429 looked
    at POSTs only): a script could guess the token without limit, 401 or 303 telling it which was right, and the
    right one started a signed-in session without the form's CSRF token."""
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        for n in range(15):
            guess = requests.head(url + "/signin", data={"token": f"guess{n}"}, timeout=5, allow_redirects=False)
            assert guess.status_code == 200, n
        right = requests.head(url + "/signin", data={"token": "s3cret"}, timeout=5, allow_redirects=False)
        assert right.status_code == 200
        assert not right.cookies.get(SESSION_COOKIE, "").startswith("s."), "no signed-in session from a HEAD"
        assert requests.get(url + "/api/videos.json", headers={"Authorization": "Bearer s3cret"},
                            timeout=5).status_code == 200, "no guess was counted against the address"
