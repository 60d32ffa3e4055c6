"""A name stored before names were cleaned (services/common/name_text.py) may still hold bidi controls: an override
in "Ana\u202egnp.exe" turned the rest of a notice or an audit line around, and an RTL name pulled the ids beside it
to its side. The page shows no bidi control of any stored text, and isolates each name in `<bdi>` wherever a
sentence holds it: the notice of a correction, the audit trail, the page of an id a merge took away."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analytics.audit import AuditRow
from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from services.analytics.web.bidi import BIDI_CONTROLS, as_html, described, isolated, plain

ANA, BOB = "inf_00000000a1", "inf_00000000b2"
HOSTILE = "Ana\u202egnp.exe"  # shown raw: "Anaexe.png", and every word after it backwards
RTL = "\u05d3\u05e0\u05d4\u200f"  # Hebrew, with a right-to-left mark after it
RENAME = AuditRow("a" * 32, "rename", "page", 1.0, before_ids=(ANA,), after_ids=(ANA,), before_name=RTL,
                  after_name=HOSTILE, undoable=True)
MERGE = AuditRow("b" * 32, "merge", "page", 2.0, before_ids=(BOB,), after_ids=(ANA,),
                 names={ANA: HOSTILE, BOB: "\u2067" + RTL}, videos=1, faces=1, undoable=True)


def test_a_sentence_of_an_isolated_row_puts_each_name_in_bdi_and_keeps_no_bidi_control() -> None:
    shown = str(described(MERGE))
    assert shown == "Merged <bdi>\u05d3\u05e0\u05d4</bdi> into <bdi>Anagnp.exe</bdi>: 1 video"
    assert plain("Named " + isolated(RENAME).after_name) == "Named Anagnp.exe"
    odd = isolated(AuditRow("c" * 32, "rename", "page", 0.0, after_name="<i>\ue001"))
    assert str(as_html("<b>" + odd.after_name)) == "&lt;b&gt;<bdi>&lt;i&gt;</bdi>"  # a name's own marks close nothing


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    video = "00000000000000a1"
    store.record_video(VideoRow(url="clip\u202e4pm.mov", video_id=video, performance=1.0, status=DONE, duration_s=10.0,
                                faces=1, location=""),
                       [AppearanceRow(video, ANA, 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    store.apply_changes(1, {}, {ANA: HOSTILE}, audit=RENAME)
    store.apply_changes(2, {}, {}, audit=MERGE)
    yield create_app(store).test_client()
    store.close()


@pytest.mark.parametrize("path", ["/", "/audit", f"/influencer/{ANA}", f"/influencer/{BOB}", "/videos",
                                  f"/predict?ids={BOB}"])
def test_no_page_shows_a_bidi_control_of_a_stored_name_or_url(client, path: str) -> None:  # noqa: ANN001
    client.set_cookie(DONE_COOKIE, RENAME.audit_id)
    page = client.get(path).get_data(as_text=True)
    assert not set(page) & set(BIDI_CONTROLS), (path, [hex(ord(c)) for c in set(page) & set(BIDI_CONTROLS)])
    assert "Anagnp.exe" in page or path == "/videos", path


def test_the_notice_the_audit_line_and_a_gone_ids_page_isolate_each_name(client) -> None:  # noqa: ANN001
    client.set_cookie(DONE_COOKIE, RENAME.audit_id)
    notice = client.get("/").get_data(as_text=True)
    assert ("Named inf_00000000a1 &#39;<bdi>Anagnp.exe</bdi>&#39; (was &#39;<bdi>\u05d3\u05e0\u05d4</bdi>&#39;)"
            in notice)
    trail = client.get("/audit").get_data(as_text=True)
    assert "Merged <bdi>\u05d3\u05e0\u05d4</bdi> into <bdi>Anagnp.exe</bdi>: 1 video" in trail
    gone = client.get(f"/influencer/{BOB}")
    assert gone.status_code == 404 and "<bdi>Anagnp.exe</bdi>" in gone.get_data(as_text=True)
    assert '<bdi class="name">Anagnp.exe</bdi>' in client.get("/").get_data(as_text=True)


def test_a_links_address_keeps_its_bidi_control_percent_encoded_and_only_its_text_loses_it(tmp_path: Path) -> None:
    """The finalize dropped the control from the href and the player's src too: the link to
    `clip\u202e4pm.mov` pointed at `clip4pm.mov`, another file. The address now keeps it, encoded as the
    browser would send it; the text shown does not."""
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    video = "00000000000000b2"
    url = "https://cdn.example/clip\u202e4pm.mov?n=\u05d3&a=1"
    try:
        store.record_video(VideoRow(url=url, video_id=video, performance=1.0, status=DONE, duration_s=10.0,
                                    faces=1, location=url), [AppearanceRow(video, ANA, 1.0, 2.0, 1, 1.0, 0.8, b"")])
        page = create_app(store).test_client().get(f"/video/{video}").get_data(as_text=True)
    finally:
        store.close()
    encoded = "https://cdn.example/clip%E2%80%AE4pm.mov?n=%D7%93&amp;a=1"
    assert f'<a href="{encoded}"' in page
    assert f'src="{encoded}#t=1.00"' in page
    assert "<code>https://cdn.example/clip4pm.mov?n=\u05d3&amp;a=1</code>" in page
    assert not set(page) & set(BIDI_CONTROLS)
