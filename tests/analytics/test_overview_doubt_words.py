"""The overview's Identity column says plainly when an influencer has nothing in doubt."""

from __future__ import annotations

import re

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


def test_an_influencer_with_no_doubtful_video_and_nothing_to_review_reads_no_doubts(
        analytics_store: AnalyticsStore) -> None:
    page = create_app(analytics_store).test_client().get("/").get_data(as_text=True)
    cells = re.findall(r'<td class="doubt"[^>]*>(.*?)</td>', page, re.S)
    assert cells
    plain = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    # Was "none" under "Identity", which read as "no identity"
    assert "none" not in plain and "no doubts" in plain, plain
