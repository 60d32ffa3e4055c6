"""A name's length on the page is counted as identity counts it: in characters once composed (NFC). A name
pasted decomposed (macOS file names, some Vietnamese and Korean input methods: "ễ" as e + two accents) has up
to three code points a letter."""

from __future__ import annotations

import re
import unicodedata
from io import BytesIO

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import FakeCorrections

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
