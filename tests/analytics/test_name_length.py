"""A name's length on the page is counted as identity counts it: in characters once composed (NFC). A name
pasted decomposed (macOS file names, some Vietnamese and Korean input methods: "ễ" as e + two accents) has up
to three code points a letter."""

from __future__ import annotations

import re
import unicodedata
from io import BytesIO

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.name_text import RAW_FACTOR
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving

NAME = "Nguyễn " * 25  # 175 characters composed, 225 code points decomposed
DECOMPOSED = unicodedata.normalize("NFD", NAME.strip())


def test_a_name_of_175_letters_sent_decomposed_is_taken_by_rename_and_enrol(analytics_store: AnalyticsStore) -> None:
    """Was: "a name has at most 200 characters" (rename) and "give a name of 1 to 200 characters" (enrol) for a
    name identity takes."""
    assert len(DECOMPOSED) > 200 >= len(unicodedata.normalize("NFC", DECOMPOSED))
    fake = FakeCorrections()
    client = create_app(analytics_store, corrections=fake).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": token.group(1), "name": DECOMPOSED})
    assert renamed.status_code == 303, renamed.get_data(as_text=True)[-1500:]
    enrolled = client.post("/enrol", data={"csrf_token": token.group(1), "name": DECOMPOSED,
                                           "photos": [(BytesIO(b"\xff\xd8\xff\xe0" + bytes(16)), "a.jpg")]},
                           content_type="multipart/form-data")
    assert enrolled.status_code == 303, enrolled.get_data(as_text=True)[-1500:]
    assert [call[:2] for call in fake.calls] == [("rename", "inf_aaaa000001"), ("enrol", NAME.strip())]
    assert fake.calls[0][2] == NAME.strip(), "sent composed, as identity stores it"


def test_a_name_within_200_characters_once_its_direction_marks_are_gone_is_taken_by_rename_and_enrol(
        analytics_store: AnalyticsStore) -> None:
    """Identity removes bidi marks, zero-width spaces and controls before it counts a name's characters: a name
    of 150 letters pasted with a right-to-left mark after each word (as some chats and PDFs write Arabic or
    Hebrew text) was refused by the page ("a name has at most 200 characters") though identity takes it."""
    marked = "\u200f ".join(["\u05d0\u05d1\u05d2\u05d3\u05d4"] * 30) + "\u200f"  # 179 characters, 209 with marks
    padded = "Ann" + "\u200b" * 250  # and a name that pasted invisible characters: 3 shown
    fake = FakeCorrections()
    client = create_app(analytics_store, corrections=fake).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    for name in (marked + "\u200e" * 40, padded):
        assert len(name) > 200
        renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": token.group(1), "name": name})
        assert renamed.status_code == 303, renamed.get_data(as_text=True)[-1500:]
        enrolled = client.post("/enrol", data={"csrf_token": token.group(1), "name": name,
                                               "photos": [(BytesIO(b"\xff\xd8\xff\xe0" + bytes(16)), "a.jpg")]},
                               content_type="multipart/form-data")
        assert enrolled.status_code == 303, enrolled.get_data(as_text=True)[-1500:]
    refused = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": token.group(1),
                                                                     "name": "A" * 201 + "\u200b"})
    assert refused.status_code == 400 and "at most 200 characters" in refused.get_data(as_text=True)


@pytest.mark.parametrize("name", ["Ann" + "\u200b" * (RAW_FACTOR * 200 - 3), "Ann" + "\u200b" * (RAW_FACTOR * 200 - 2),
                                  "Ann" + "A" * 498_900])
def test_a_name_longer_as_sent_than_identity_reads_is_refused_by_the_page_with_its_form_kept(
        analytics_store: AnalyticsStore, name: str) -> None:
    """The page cleaned a name of up to 500 kB (its text field's limit) to count it, 0.3 s of a server thread
    holding the GIL a request, before identity refused it unread: over 2,000 characters as sent (name_text's
    RAW_FACTOR for each of 200) the page now refuses it by the same rule, before cleaning it, and identity is not
    asked; at 2,000 the name is sent on ("Ann" and invisible characters: identity keeps "Ann")."""
    fake = FakeCorrections()
    with serving(create_app(analytics_store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
        renamed = browser.post(url + "/influencer/inf_aaaa000001/rename", data={"csrf_token": token, "name": name},
                               allow_redirects=False, timeout=30)
        enrolled = browser.post(url + "/enrol", data={"csrf_token": token, "name": name}, timeout=30,
                                files=[("photos", ("a.jpg", b"\xff\xd8\xff\xe0" + bytes(16), "image/jpeg"))],
                                allow_redirects=False)
    if len(name) <= RAW_FACTOR * 200:
        assert (renamed.status_code, enrolled.status_code) == (303, 303), renamed.text[-1000:]
        assert [call[:2] for call in fake.calls] == [("rename", "inf_aaaa000001"), ("enrol", name)]
        return
    assert fake.calls == []
    assert renamed.status_code == 400 and "at most 200 characters" in renamed.text
    kept = re.search(r'<input type="text" name="name"[^>]* value="([^"]*)"', renamed.text)
    assert kept is not None and kept.group(1).startswith(name[:10]), "the form to send again keeps the name"
    assert enrolled.status_code == 400 and "give a name of 1 to 200 characters" in enrolled.text
    kept = re.search(r'name="name"[^>]* value="([^"]*)"', enrolled.text)
    assert kept is not None and kept.group(1).startswith("Ann"), "the enrol form keeps the name"
