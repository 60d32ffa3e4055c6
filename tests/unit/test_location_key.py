"""A location past 1 KiB is keyed by its head and the SHA-256 of the whole (services/common/location_key.py),
by ingest and analytics alike; a shorter one is its own key."""

from __future__ import annotations

from pathlib import Path

from services.common.location_key import MAX_KEY_BYTES, location_key
from services.common.row_keys import manifest_row_key
from services.ingest.pipeline import resolve_location


def test_a_location_within_the_bound_is_its_own_key() -> None:
    for location in ("", "/videos/a.mp4", "x" * MAX_KEY_BYTES, "é" * (MAX_KEY_BYTES // 2)):
        assert location_key(location) == location


def test_a_longer_location_is_its_head_and_digest_within_the_bound_one_key_each_and_stable() -> None:
    a, b = "/v/" + "a" * 5_000, "/v/" + "a" * 4_999 + "b"
    assert location_key(a) != location_key(b), "the same head, another tail: another key"
    for location in (a, b, "é" * 600, "😀" * 300, "x" * (MAX_KEY_BYTES + 1)):
        key = location_key(location)
        assert len(key.encode()) <= MAX_KEY_BYTES and location.startswith(key.split("#sha256=")[0])
        assert location_key(key) == key, "a key is its own key: a lookup by it finds the row"
    assert location_key("\udcff" * 2_000).endswith(location_key("\udcff" * 2_000)[-64:]), "surrogates digested"


def test_ingest_keys_a_long_link_or_path_as_analytics_does(tmp_path: Path) -> None:
    link = "https://cdn.example.com/v.mp4?q=" + "z" * 3_000
    assert resolve_location(link, tmp_path) == location_key(link)
    name = "/".join(["d" * 200] * 10) + "/a.mp4"
    assert resolve_location(name, tmp_path) == location_key(str(tmp_path / name))
    assert resolve_location("a.mp4", tmp_path) == str(tmp_path / "a.mp4")


def test_a_links_secrets_are_digested_in_its_key_wherever_they_stand_its_password_hidden_and_a_path_kept() -> None:
    link = "https://ann:pw1@cdn.example/token=tok1/sig/tok2/v.mp4?X-Amz-Signature=tok3&id=7"
    key = location_key(link)
    assert not [s for s in ("pw1", "tok1", "tok2", "tok3") if s in key], key
    assert key.startswith("https://***@cdn.example/") and "/token=sha256-" in key and "/sig/sha256-" in key
    assert "/v.mp4?X-Amz-Signature=sha256-" in key and key.endswith("&id=7")
    assert location_key(link.replace("tok1", "tok9")) != key, "another secret: another row"
    assert location_key("https://***@cdn.example/v.mp4") == "https://***@cdn.example/v.mp4", "hidden before"
    assert location_key("/videos/token=a/b?sig=c.mp4") == "/videos/token=a/b?sig=c.mp4", "a path's names are real"
    # A password's digest could be found again by trying guesses: it is hidden, not digested.
    assert location_key("https://ann:pw2@cdn.example/v.mp4") == location_key("https://bob:pw1@cdn.example/v.mp4")
    row = manifest_row_key("/data/week?token=1", 3, 0, "w.csv")
    assert location_key(row) == row, "a manifest row's key is a folder and line: its names are real"


def test_a_long_key_cut_inside_a_digest_is_still_its_own_key() -> None:
    for cut in range(41):
        # The head (952 bytes) ends at every place of a digested path token and of a digested query secret.
        for link in (f"https://cdn.example/{'p' * (886 + cut)}/token=hunter2/" + "q" * 2_000,
                     f"https://cdn.example/v.mp4?pad={'b' * (878 + cut)}&sig=hunter2&q=" + "z" * 2_000):
            key = location_key(link)
            assert location_key(key) == key and len(key.encode()) <= MAX_KEY_BYTES and "hunter2" not in key


def test_ingest_keys_a_link_with_a_path_token_as_analytics_does(tmp_path: Path) -> None:
    link = "https://cdn.example/hdnts=exp=1~hmac=hunter2/v.mp4"
    assert resolve_location(link, tmp_path) == location_key(link) and "hunter2" not in location_key(link)
