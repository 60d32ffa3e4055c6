"""The address the page links to and plays from (services/analytics/web/links.py): the file ingest fetched."""

from __future__ import annotations

import pytest

from services.analytics.web.links import href


@pytest.mark.parametrize(("url", "address"), [
    # A backslash in the path is a `/` to a browser reading a typed link, and to ingest: was sent `%5C`, so that the
    # link and the player opened /clips%5Ca.mp4, not the file analysed. In the query it stays a character.
    ("https://cdn/clips\\a b.mp4?q=\\x", "https://cdn/clips/a%20b.mp4?q=%5Cx"),
    ("http://cdn:8080/a\\b\\c.mp4#t=1", "http://cdn:8080/a/b/c.mp4#t=1"),
    # In or before the host (ingest refuses the link): as given, encoded.
    ("https://cdn\\@10.0.0.1/a.mp4", "https://cdn%5C@10.0.0.1/a.mp4"),
    ("https://cdn/a.mp4", "https://cdn/a.mp4"),
])
def test_a_backslash_in_a_links_path_is_linked_as_the_slash_ingest_fetched(url: str, address: str) -> None:
    assert str(href(url)) == address
