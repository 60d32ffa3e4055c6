"""Screenshots of the report page for the docs: starts the whole stack (influencers.stack) on a data dir of the
smoke corpus (ingesting the corpus first when the data dir holds none of it), then photographs the overview,
the "same person?" queue and a video page in headless Chromium (Playwright), at 1280 and 800 px wide.

    .venv/bin/python tools/screenshots.py [--corpus ../shared/corpus/smoke] [--data-dir D] [--out docs/screenshots]
        [--names 4]

Writes OUT/{overview,review,video}-{1280,800}.png. The video page is the one with the most people in it; its
player reads the corpus's files (the stack's allowed root is the corpus folder). Before the pictures, the
influencers in the most videos (--names of them) are named after the corpus's truth.csv, as an analyst would
have named them, so the pictures show named and unnamed faces side by side. The settings are read from the
environment as `influencers run` reads them (a strict run's INFLUENCERS_CLUSTER_THRESHOLD and
INFLUENCERS_MATCH_THRESHOLD, for its data dir); the queue shows its less likely pairs when it has no likely one.
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
from collections import Counter
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from influencers.client import ingest_manifest
from influencers.stack import Stack, start_stack
from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc
from services.common.clients import GrpcAnalytics, GrpcIdentity
from services.common.rpc import open_channel
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # the system's Chromium (it plays H.264); else Playwright's own
WIDTHS = (1280, 800)  # px: a laptop, and a narrow window or tablet (the overview must fit it)
PAGES = ("overview", "review", "video")


def start(corpus: Path, data_dir: Path) -> Stack:
    """The stack on free loopback ports over `data_dir`, with the corpus ingested (a second run finds every
    video done and ingests nothing new)."""
    settings = Settings.from_env(data_dir=data_dir, ingest_port=0, identity_port=0, analytics_port=0, web_port=0,
                                 workers=2, allowed_root=str(corpus.resolve()))
    stack = start_stack(settings, web=True)
    try:
        if not stack.store.list_videos():
            ingest_manifest(open_channel(stack.settings.ingest_target), corpus / "manifest.csv", timeout_s=1800)
    except BaseException:
        stack.stop()
        raise
    return stack


def busiest_video(stack: Stack) -> str:
    """The id of the done video with the most people in it (then the longest): the page worth showing."""
    videos = [v for v in stack.store.list_videos() if v.video_id and v.faces]
    if not videos:
        raise SystemExit("no video with faces in the data dir: nothing to show on a video page")
    return max(videos, key=lambda v: (len(stack.store.appearances_in(v.video_id)), v.duration_s)).video_id


def name_from_truth(stack: Stack, corpus: Path, count: int) -> None:
    """Names the `count` influencers in the most videos after the corpus person they share most videos with
    (tony_blair -> "Tony Blair"), through identity, and waits until the page shows it."""
    with open(corpus / "truth.csv", newline="") as f:
        people = {r["file"]: r["people"].split(";") for r in csv.DictReader(f)}
    shared: dict[str, Counter[str]] = {}
    for v in stack.store.list_videos():
        for a in stack.store.appearances_in(v.video_id) if v.video_id else []:
            shared.setdefault(a.influencer_id, Counter()).update(people.get(v.url, []))
    ranked = sorted(shared, key=lambda i: (-len(stack.store.appearances_of(i)), i))[:count]
    s = stack.settings
    identity = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(s.identity_target)), 60)
    analytics = GrpcAnalytics(analytics_pb2_grpc.AnalyticsServiceStub(open_channel(s.analytics_target)), 60)
    for influencer_id in ranked:
        person = shared[influencer_id].most_common(1)[0][0]
        written = identity.rename(influencer_id, person.replace("_", " ").title())
        analytics.wait_for_position(written.feed_position, 30)


def review_url(stack: Stack) -> str:
    """The queue's address: with its less likely pairs when it has no likely one (the smoke corpus has none)."""
    identity = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(stack.settings.identity_target)), 60)
    return f"{stack.web_url}review" + ("" if identity.review_queue(1).likely else "?unlikely=1")


MAX_HEIGHT = 2000  # px: a long page (the queue's less likely pairs) is cut here, a first screen and a half


def photograph(page: Page, url: str, path: Path, width: int) -> Path:
    """A PNG of `url` at `width` px, the whole page up to MAX_HEIGHT; waits for images, and for a video's first
    frame when there is a player (at most 10 s: a video that cannot load is photographed as it is)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url, wait_until="networkidle")
    if page.locator("video#player").count():
        page.wait_for_function("() => document.getElementById('player').readyState >= 2", timeout=10_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "smoke",
                        help="corpus folder holding manifest.csv (default ../shared/corpus/smoke)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the stores here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder of the PNGs")
    parser.add_argument("--names", type=int, default=4, help="influencers to name from truth.csv first (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        stack = start(args.corpus, args.data_dir or Path(tmp) / "data")
        try:
            name_from_truth(stack, args.corpus, args.names)
            urls = {"overview": stack.web_url, "review": review_url(stack),
                    "video": f"{stack.web_url}video/{busiest_video(stack)}"}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM) if CHROMIUM.exists() else None,
                                            args=["--no-sandbox", "--disable-gpu"])
                try:
                    page = browser.new_page()
                    for name in PAGES:
                        for width in WIDTHS:
                            print(photograph(page, urls[name], args.out / f"{name}-{width}.png", width))
                finally:
                    browser.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
