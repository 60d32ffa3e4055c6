"""In headless Chromium on the real stack (three gRPC services, Qdrant Edge, SQLite, waitress) over three
smoke-corpus videos: an unnamed face is named inline where it is shown (overview, review queue, influencer
page) and the page stays where it was; the video page plays the video and seeks to an appearance when its
bar or time is clicked. Each test names a different influencer, so none depends on another's order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from influencers.client import ingest_manifest
from influencers.stack import Stack, start_stack
from services.common.rpc import open_channel
from services.common.settings import Settings
from tests.support.browser import CHROMIUM, chromium

SMOKE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "smoke"
VIDEOS = ("v0001", "v0006", "v0010")  # v0001: three people, the last one from 9.4 s


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not CHROMIUM.exists() or not (SMOKE / "manifest.csv").is_file():
        pytest.skip("needs /usr/bin/chromium and the smoke corpus")
    tmp = tmp_path_factory.mktemp("names")
    truth = {line.split(",")[1].strip(): line.split(",")[0] for line in (SMOKE / "manifest.csv").read_text()
             .splitlines()[1:]}
    manifest = tmp / "three.csv"
    manifest.write_text("Performance,Video URL\n" + "".join(
        f"{truth[f'videos/{v}.mp4']},{SMOKE / 'videos' / (v + '.mp4')}\n" for v in VIDEOS))
    # review_band 1.0: the corpus's distinct people come into the "Same person?" queue, so it has faces to name.
    settings = Settings(data_dir=tmp / "data", ingest_port=0, identity_port=0, analytics_port=0, web_port=0,
                        workers=2, review_band=1.0, allowed_root=str(SMOKE))
    running = start_stack(settings, web=True)
    try:
        ingest_manifest(open_channel(running.settings.ingest_target), manifest, timeout_s=600)
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(stack: Stack) -> Iterator[object]:
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


def unnamed(stack: Stack, taken: int) -> str:
    """The `taken`-th influencer (by id) with no name yet: each test takes its own."""
    names = stack.store.names()
    ids = sorted({a.influencer_id for v in stack.store.list_videos() for a in stack.store.appearances_in(v.video_id)})
    return [i for i in ids if i not in names][taken]


def name_inline(page: object, influencer_id: str, name: str) -> None:
    form = page.locator(f"form.add-name[action='/influencer/{influencer_id}/rename']").first
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=name]").press("Enter")
    page.wait_for_load_state("load")


def test_clearing_the_name_of_someone_unnamed_changes_nothing_and_audits_nothing(stack, page):
    base = stack.web_url.rstrip("/")
    who = unnamed(stack, 0)  # cleared, not named: the next test takes it
    before = len(stack.store.audit_rows())
    page.goto(f"{base}/influencer/{who}")
    page.locator("form#rename input[name=name]").fill("")
    page.locator("form#rename button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{base}/influencer/{who}") and page.locator("h1").inner_text() == "Unnamed"
    assert len(stack.store.audit_rows()) == before and page.locator("#feedback").count() == 0


def test_naming_a_face_inline_on_the_overview_names_it_and_stays_on_the_overview(stack, page):
    base = stack.web_url.rstrip("/")
    who = unnamed(stack, 0)
    page.goto(base + "/")
    name_inline(page, who, "Tony Blair")
    assert page.url == f"{base}/#{who}"
    row = page.locator(f"tr#{who}")
    assert row.locator(".name").inner_text() == "Tony Blair" and row.locator(".id").inner_text() == who
    assert row.locator("form.add-name").count() == 0, "a named face has no 'Add a name' any more"
    assert stack.store.names()[who] == "Tony Blair"
    said = page.locator("#feedback")
    assert "Tony Blair" in said.inner_text() and said.locator("button:has-text('Undo')").count() == 1
    assert said.bounding_box()["y"] >= 0, "in view at the face named"
    notice, name = said.bounding_box(), row.locator(".name").bounding_box()
    assert name["y"] >= notice["y"] + notice["height"], "the name just given shows below the notice, not under it"


def test_naming_a_face_inline_in_the_review_queue_stays_in_the_queue(stack, page):
    base = stack.web_url.rstrip("/")
    page.goto(base + "/review?unlikely=1")  # the smoke corpus has no likely pair: the less likely ones show
    form = page.locator("form.add-name").first
    who = form.get_attribute("action").split("/")[2]
    name_inline(page, who, "Angelina")
    assert page.url.startswith(f"{base}/review")
    assert stack.store.names()[who] == "Angelina"
    assert page.locator(f"form.add-name[action='/influencer/{who}/rename']").count() == 0


def test_naming_a_face_inline_on_the_influencer_page_titles_the_page(stack, page):
    base = stack.web_url.rstrip("/")
    who = unnamed(stack, 0)
    page.goto(f"{base}/influencer/{who}")
    assert page.locator("h1").inner_text() == "Unnamed"
    name_inline(page, who, "Jeff")
    assert page.url.startswith(f"{base}/influencer/{who}")
    assert page.locator("h1").inner_text() == "Jeff" and page.locator("p.id").first.inner_text() == who


def test_naming_a_face_with_a_name_another_has_says_so(stack, page):
    base = stack.web_url.rstrip("/")
    first = unnamed(stack, 0)
    page.goto(base + "/")
    name_inline(page, first, "Sam Twin")
    assert "Also named" not in page.locator("#feedback").inner_text()
    second = unnamed(stack, 0)
    name_inline(page, second, "sam  twin")
    said = page.locator("#feedback").inner_text()
    assert f"Also named 'sam twin': {first}" in said and "merge them" in said, said


def test_the_video_page_plays_the_video_and_seeks_to_an_appearance_clicked(stack, page):
    base = stack.web_url.rstrip("/")
    video = next(v for v in stack.store.list_videos() if v.url.endswith("v0001.mp4"))
    last = max(stack.store.appearances_in(video.video_id), key=lambda a: a.first_seen_s)
    assert last.first_seen_s > 2.0, "the test needs an appearance well after the start"
    page.goto(f"{base}/video/{video.video_id}")
    assert page.locator("h1").inner_text() == "v0001.mp4"
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=15_000)
    assert page.evaluate("document.getElementById('player').duration") > last.first_seen_s

    def position() -> float:
        return page.evaluate("document.getElementById('player').currentTime")

    bars = page.locator("rect.seekable")
    bar = bars.nth(bars.count() - 1)  # the table is in first-seen order: the last row's last bar
    start = float(bar.get_attribute("data-seek"))
    assert start >= last.first_seen_s - 0.01
    bar.click()
    assert start - 0.05 <= position() <= start + 2.0, position()
    page.locator("button.seek").first.click()  # the first person, from their first appearance
    first = float(page.locator("button.seek").first.get_attribute("data-seek"))
    assert first - 0.05 <= position() <= first + 2.0 < start, position()

    # A click three quarters along the longest bar plays from that moment, not from the bar's start.
    longest = max((bars.nth(k) for k in range(bars.count())),
                  key=lambda b: float(b.get_attribute("data-end")) - float(b.get_attribute("data-seek")))
    begin, end = float(longest.get_attribute("data-seek")), float(longest.get_attribute("data-end"))
    assert end - begin > 2.0, "the test needs a long run on screen"
    box = longest.bounding_box()
    longest.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    assert begin + 0.5 * (end - begin) <= position() <= end + 0.05, (position(), begin, end)


def test_a_bar_of_the_influencer_pages_timeline_opens_the_video_page_at_that_time(stack, page):
    base = stack.web_url.rstrip("/")
    video = next(v for v in stack.store.list_videos() if v.url.endswith("v0001.mp4"))
    last = max(stack.store.appearances_in(video.video_id), key=lambda a: a.first_seen_s)
    page.goto(f"{base}/influencer/{last.influencer_id}")
    page.locator(f"a[href^='/video/{video.video_id}?t=']").first.click()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=15_000)
    at = float(page.url.split("?t=")[1])
    assert at >= last.first_seen_s - 0.01
    assert at - 0.5 < page.evaluate("document.getElementById('player').currentTime") < at + 2.0  # playing on


def test_the_overview_shows_every_column_at_800_px(stack, page):
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(stack.web_url)
    fits = page.evaluate("""() => {
        const box = document.querySelector('.table-scroll'), table = document.getElementById('influencers');
        return [box.clientWidth, table.scrollWidth, document.documentElement.scrollWidth];
    }""")
    box, table, document = fits
    assert table <= box and document <= 800, fits
    assert page.locator("#influencers th").last.is_visible()
