"""One person the face model split, named twice by the analyst: the influencer page lists the others of that
name and offers them as one merge, which keeps the survivor the CLI would keep. Before, the page only said
"Also named ..." once, in the rename's banner, and the merge meant finding each id in a list."""

from __future__ import annotations

import re

import requests
from test_audit_page import csrf, page, people_in, settle  # noqa: F401 - fixtures


def rename(base: str, browser: requests.Session, influencer_id: str, name: str) -> None:
    token = csrf(browser.get(f"{base}/influencer/{influencer_id}", timeout=10).text)
    answer = browser.post(f"{base}/influencer/{influencer_id}/rename", data={"csrf_token": token, "name": name},
                          timeout=30)
    assert answer.status_code == 200


def namesakes_form(text: str) -> list[str] | None:
    """The ids the namesakes' merge form sends, or None when the page has no such form."""
    notice = re.search(r'<div class="notice namesakes" id="namesakes">(.*?)</div>', text, re.S)
    if notice is None or "<form" not in notice.group(1):
        return None
    return re.findall(r'name="ids" value="([^"]+)"', notice.group(1))


def test_two_influencers_given_one_name_are_offered_as_one_merge_that_keeps_the_cli_s_survivor(page) -> None:  # noqa: F811
    stack, base, ids = page
    browser = requests.Session()
    rename(base, browser, ids["a"], "Elton John")
    rename(base, browser, ids["b"], "elton  john")  # case and blanks aside, the same name
    settle(stack, stack.identity.feed.head())
    shown = browser.get(f"{base}/influencer/{ids['b']}", timeout=10).text
    assert "Also named “<bdi>elton  john</bdi>”" in shown or "Also named “<bdi>elton john</bdi>”" in shown
    assert namesakes_form(shown) == [ids["b"], ids["a"]]
    # The other is shown as it is written (was: its id alone, under the heading's "elton  john").
    notice = re.search(r'id="namesakes">(.*?)</ul>', shown, re.S)
    assert notice is not None and f'{ids["a"]}</span></a> “<bdi>Elton John</bdi>” · ' in notice.group(1)
    assert namesakes_form(browser.get(f"{base}/influencer/{ids['c']}", timeout=10).text) is None, "c is unnamed"

    token = csrf(shown)
    landed = browser.post(f"{base}/merge", data={"csrf_token": token, "ids": namesakes_form(shown)}, timeout=30)
    assert landed.status_code == 200 and "Merged" in landed.text
    survivor = landed.url.rsplit("/", 1)[1]
    assert survivor in (ids["a"], ids["b"])
    assert people_in(stack, "a") == people_in(stack, "b") == {survivor}
    assert namesakes_form(landed.text) is None, "one influencer of that name is left: nothing more to offer"
    assert people_in(stack, "c") == {ids["c"]}


def test_a_name_shared_by_more_influencers_than_one_merge_offers_is_listed_without_the_one_click_merge(page) -> None:  # noqa: F811
    stack, base, ids = page
    browser = requests.Session()
    for key in ("a", "b", "c"):
        rename(base, browser, ids[key], "Alex")
    settle(stack, stack.identity.feed.head())
    stack.web.app.config["NAMESAKES_MERGED_AT_ONCE"] = 1  # a common name: 2 others, over a limit of 1
    shown = browser.get(f"{base}/influencer/{ids['a']}", timeout=10).text
    assert ids["b"] in shown and ids["c"] in shown
    assert namesakes_form(shown) is None
    assert "Two people may share a name" in shown
