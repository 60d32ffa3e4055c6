"""A signed-in page session lasts INFLUENCERS_SESSION_LIFETIME_S, then reads as no session."""

from services.analytics.web.auth import SIGNED_IN, Keys


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_is_read_within_its_lifetime_and_not_after_it() -> None:
    clock = Clock(1_000_000.0)
    keys = Keys("token", lifetime_s=60, clock=clock)
    session, cookie = keys.new_session(SIGNED_IN)
    clock.now += 59
    assert keys.read_session(cookie) == session
    clock.now += 2
    assert keys.read_session(cookie) is None


def test_a_cookie_whose_issue_time_was_changed_is_not_ours() -> None:
    clock = Clock(1_000_000.0)
    keys = Keys("token", lifetime_s=60, clock=clock)
    _, cookie = keys.new_session(SIGNED_IN)
    level, nonce, issued, mac = cookie.split(".")
    clock.now += 120
    assert keys.read_session(f"{level}.{nonce}.{int(issued) + 120}.{mac}") is None


def test_a_cookie_issued_in_the_future_or_by_another_token_is_refused() -> None:
    clock = Clock(1_000_000.0)
    _, cookie = Keys("token", lifetime_s=60, clock=Clock(2_000_000.0)).new_session(SIGNED_IN)
    assert Keys("token", lifetime_s=60, clock=clock).read_session(cookie) is None
    _, other = Keys("other", lifetime_s=60, clock=clock).new_session(SIGNED_IN)
    assert Keys("token", lifetime_s=60, clock=clock).read_session(other) is None
