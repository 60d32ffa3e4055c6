"""Headless Chromium for the page's browser tests: one set of flags, one way to start it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
# Quiet and offline: no sandbox (tests may run as root), no GPU, no QUIC or background fetches of its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """The system's Chromium, headless, with CHROMIUM_ARGS and `extra_args`; closed on leaving. Skips the test
    where /usr/bin/chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser test needs {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()
