"""Page sizes and page tokens (services/common/paging.py), as every paged list of the services reads them."""

import pytest

from services.common.paging import decode_token, encode_token, page_size


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
