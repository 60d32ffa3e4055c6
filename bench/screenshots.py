"""Screenshots of the report page on real data for docs/screenshots/: runs the whole stack (influencers.stack)
on a corpus (default ../shared/corpus/smoke) in a temporary data dir, then photographs pages in headless
Chromium through Playwright.

    .venv/bin/python bench/screenshots.py [--corpus DIR] [--out docs/screenshots] [--data-dir D]

With --data-dir the stores are kept there (a second run ingests nothing new and only photographs).

`capture(url, path)` photographs any page; use it for pages this script does not take (the review queue:
`capture(stack.web_url + "review", out / "review.png")` while a stack is up).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from influencers.client import ingest_manifest
from influencers.stack import Stack, start_stack
from services.common.rpc import open_channel
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # the system's Chromium (make test installs it); else Playwright's own
WIDTH = 1280


def capture(url: str, path: Path, width: int = WIDTH, height: int = 900, full_page: bool = True) -> Path:
    """Writes a PNG of the page at `url` (loopback only: the stack serves it) to `path`; waits until the
    network is idle so images are in. Returns `path`."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"capture takes pages served on loopback, not {url[:80]!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM) if CHROMIUM.exists() else None,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url, wait_until="networkidle")
            page.screenshot(path=str(path), full_page=full_page)
        finally:
            browser.close()
    return path


def run_corpus(corpus: Path, data_dir: Path) -> Stack:
    """Starts the stack on free loopback ports with its stores in `data_dir`, ingests the corpus's manifest
    and returns the running stack (the caller stops it)."""
    settings = Settings(data_dir=data_dir, ingest_port=0, identity_port=0, analytics_port=0, web_port=0,
                        workers=2)
    stack = start_stack(settings, web=True)
    try:
        ingest_manifest(open_channel(stack.settings.ingest_target), corpus / "manifest.csv", timeout_s=1800)
    except BaseException:
        stack.stop()
        raise
    return stack


def pages_worth_showing(stack: Stack) -> dict[str, str]:
    """Influencer ids by picture name: "influencer_timeline" has the most videos (then segments),
    "influencer_segments" the most segments in one video (then videos). Ties keep the page's order."""
    with urllib.request.urlopen(stack.web_url + "api/influencers.json", timeout=30) as reply:  # our stack
        ids = [r["influencer_id"] for r in json.load(reply)]
    seen = {i: stack.store.appearances_of(i) for i in ids}
    videos = {i: len(a) for i, a in seen.items()}
    segments = {i: max((len(x.segments) for x in a), default=0) for i, a in seen.items()}
    return {
        "influencer_timeline": max(ids, key=lambda i: (videos[i], segments[i])),
        "influencer_segments": max(ids, key=lambda i: (segments[i], videos[i])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "smoke")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the stores here (default: a temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        stack = run_corpus(args.corpus, args.data_dir or Path(tmp) / "data")
        try:
            url = stack.web_url
            print(capture(url, args.out / "overview_verdicts.png"))
            for name, who in pages_worth_showing(stack).items():
                print(capture(f"{url}influencer/{who}", args.out / f"{name}.png"))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
