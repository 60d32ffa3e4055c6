"""Page sizes and page tokens (services/common/paging.py), as every paged list of the services reads them."""

import pytest

from influencers.v1 import common_pb2
from services.common.paging import decode_token, encode_token, items_within, page_size


def test_a_page_size_of_zero_means_the_default_and_a_large_one_is_cut_to_the_maximum() -> None:
    assert page_size(0) == 1000 and page_size(5) == 5 and page_size(10**6) == 1000


def test_a_negative_page_size_is_refused() -> None:
    with pytest.raises(ValueError):
        page_size(-1)


def test_a_token_gives_back_its_position_and_the_empty_token_is_the_first_page() -> None:
    assert decode_token(encode_token(12345)) == 12345
    assert decode_token("") == 0


@pytest.mark.parametrize("token", ["garbage!", "MTIz", encode_token(5)[:-2], "cDE6LTE=", "cDE6MA=="])
def test_a_token_the_server_did_not_make_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        decode_token(token)


def test_a_token_past_the_largest_row_number_is_refused_not_left_to_overflow_the_database() -> None:
    """A forged token of `p1:` and 20 digits or more (base64, under the 64-character cap) reached SQLite, which
    cannot hold it ("Python int too large to convert to SQLite INTEGER"): a 500 on /videos and /audit."""
    assert decode_token(encode_token(2**63 - 1)) == 2**63 - 1
    for position in (2**63, 10**40):
        with pytest.raises(ValueError, match="invalid page_token"):
            decode_token(encode_token(position))


def test_a_page_takes_the_items_that_fit_its_bytes_and_always_its_first() -> None:
    rows = [common_pb2.Video(url="u" * 1000) for _ in range(5)]
    assert items_within(rows, budget=2_100) == 2
    assert items_within(rows, budget=10) == 1, "one item over the budget still makes a page"
    assert items_within(rows) == 5 and items_within([]) == 0
