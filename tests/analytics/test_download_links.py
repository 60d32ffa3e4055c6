"""The page's download links save a file (Content-Disposition: attachment, a safe name, RFC 8187 for non-ASCII);
the same /api/*.json addresses without `?download=1` answer inline, as programs read them."""

from __future__ import annotations

import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.attachment import content_disposition, safe_filename
from tests.analytics.test_analytics_web import serving


def test_the_pages_json_and_csv_links_save_files_named_for_their_table(analytics_store: AnalyticsStore,
                                                                       page: object) -> None:
    # Before: the JSON links opened the table in the browser's tab, in place of the page
    with serving(create_app(analytics_store)) as url:
        for path, link, saved in (("/", "a[href^='/api/influencers.json']", "influencers.json"),
                                  ("/", "a[href^='/api/appearances.json']", "appearances.json"),
                                  ("/videos", "a[href^='/api/videos.json']", "videos.json"),
                                  ("/audit", "a[href^='/api/audit.json']", "audit.json"),
                                  ("/", "a[href='/download/influencers.csv']", "influencers.csv")):
            page.goto(url + path, wait_until="load")
            with page.expect_download() as download:
                page.click(link)
            assert download.value.suggested_filename == saved, link
            assert page.url == url + path, "the page stays where it was"


def test_the_json_api_answers_inline_to_a_program_and_as_a_file_when_asked(analytics_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_store)) as url:
        for path in ("/api/influencers.json", "/api/audit.json"):
            inline = requests.get(url + path, timeout=5)
            assert inline.status_code == 200 and "Content-Disposition" not in inline.headers, path
            assert inline.headers["Content-Type"] == "application/json"
            saved = requests.get(url + path, params={"download": "1"}, timeout=5)
            assert saved.json() == inline.json()
            assert saved.headers["Content-Disposition"] == f'attachment; filename="{path.rsplit("/", 1)[1]}"'
        narrowed = requests.get(url + "/api/influencers.json", params={"download": "1", "min_videos": "3"}, timeout=5)
        assert narrowed.headers["Content-Disposition"] == 'attachment; filename="influencers-3plus-videos.json"'


def test_a_file_name_is_one_safe_file_and_a_non_ascii_one_is_sent_in_utf_8_too() -> None:
    assert content_disposition("videos.csv") == 'attachment; filename="videos.csv"'
    assert content_disposition('../a"b;c\r\n.json') == 'attachment; filename="a_b_c__.json"'
    assert content_disposition("Zoë Lee.json") == ('attachment; filename="Zoe_Lee.json"; '
                                                   "filename*=UTF-8''Zo%C3%AB_Lee.json")
    assert content_disposition("Ηλίας.csv") == "attachment; filename=\"_____.csv\"; filename*=UTF-8''" + \
        "%CE%97%CE%BB%CE%AF%CE%B1%CF%82.csv"
    assert safe_filename("...") == "download" and safe_filename(".hidden") == "hidden"
