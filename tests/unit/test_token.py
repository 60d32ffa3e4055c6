"""The gRPC token is compared in constant time (hmac.compare_digest) and never raises on odd input."""

import hmac

from services.common import rpc
from services.common.rpc import TokenInterceptor, token_matches

EXPECTED = b"Bearer s3cret"


def test_the_right_token_matches():
    assert token_matches("Bearer s3cret", EXPECTED)
    assert token_matches(b"Bearer s3cret", EXPECTED)


def test_a_wrong_missing_or_prefix_token_does_not_match():
    for sent in ("Bearer s3cre", "Bearer s3cret!", "s3cret", "", None, "bearer s3cret"):
        assert not token_matches(sent, EXPECTED)


def test_a_non_ascii_token_is_refused_not_an_error():
    assert not token_matches("Bearer s3crét", EXPECTED)
    assert not token_matches("Bearer \udcff", EXPECTED)


def test_the_comparison_goes_through_hmac_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(rpc.hmac, "compare_digest", spy)
    assert token_matches("Bearer s3cret", EXPECTED)
    assert calls == [(b"Bearer s3cret", EXPECTED)]


def test_the_interceptor_keeps_the_expected_value_as_bytes():
    assert TokenInterceptor("s3cret")._expected == EXPECTED
