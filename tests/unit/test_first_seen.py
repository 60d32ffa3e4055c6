"""FirstSeen: the age of the longest-standing member of a set read again and again
(influencers_job_finalising_seconds)."""

from services.common.first_seen import FirstSeen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_age_is_that_of_the_oldest_member_still_in_the_set_and_zero_when_it_is_empty() -> None:
    clock = Clock()
    seen = FirstSeen(clock)
    assert seen.oldest_age([]) == 0.0
    assert seen.oldest_age(["job-a"]) == 0.0
    clock.now += 60
    assert seen.oldest_age(["job-a", "job-b"]) == 60.0, "a newcomer does not hide the oldest"
    clock.now += 30
    assert seen.oldest_age(["job-b"]) == 30.0, "the oldest left: the next one's age"
    assert seen.oldest_age([]) == 0.0


def test_a_member_that_leaves_and_comes_back_starts_again_and_the_memory_holds_only_the_current_members() -> None:
    clock = Clock()
    seen = FirstSeen(clock)
    seen.oldest_age(["job-a"])
    clock.now += 600
    seen.oldest_age([])
    assert seen.oldest_age(["job-a"]) == 0.0
    seen.oldest_age([f"job-{n}" for n in range(1000)])
    seen.oldest_age(["job-1"])
    assert len(seen._since) == 1
