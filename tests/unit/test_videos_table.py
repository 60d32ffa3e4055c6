"""videos.csv's location column (services/analytics/report.py: videos_table) shows no secret a row's key keeps:
a password before the host, a token in the path. The digests of query secrets stay: they tell two links apart
and reveal nothing."""

from __future__ import annotations

from services.analytics.records import DONE, VideoRow
from services.analytics.report import videos_table
from services.common.url_secrets import secrets_digested


def test_the_location_column_hides_a_password_and_a_path_token_and_keeps_the_digests() -> None:
    links = ["https://ann:hunter2@cdn.example/v.mp4?token=abc", "https://cdn.example/token=hunter3/w.mp4",
             "/videos/local.mp4"]
    rows = [VideoRow(url=f"u{k}", video_id=f"{k:016x}", performance=1.0, status=DONE,
                     location=secrets_digested(link)) for k, link in enumerate(links)]
    shown = list(videos_table(rows)["location"])
    assert shown == ["https://***@cdn.example/v.mp4?token=" + secrets_digested(links[0]).split("token=")[1],
                     "https://cdn.example/token=***/w.mp4", "/videos/local.mp4"]
    assert "hunter" not in repr(shown)
