"""The gRPC token is compared in constant time (hmac.compare_digest) and never raises on odd input."""

import hmac

from services.common import rpc
from services.common.rpc import TokenInterceptor, bearer_token, token_matches

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


def test_the_interceptor_keeps_the_expected_token_as_bytes():
    assert TokenInterceptor("s3cret")._expected == b"s3cret"


def test_the_token_of_a_bearer_value_is_read_whatever_the_case_of_its_scheme():
    for sent in ("Bearer s3cret", "bearer s3cret", "BEARER  s3cret ", b"bEaReR s3cret"):
        assert bearer_token(sent) in ("s3cret", b"s3cret"), sent
    for other in ("Basic s3cret", "Bearers3cret", "s3cret", "", None, b"Token s3cret"):
        assert bearer_token(other) is None, other
