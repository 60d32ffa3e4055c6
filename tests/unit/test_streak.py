"""A step retried while it fails is logged at its first failure, then once every `every` tries."""
from services.common.streak import FailureStreak


def test_the_first_failure_and_every_sixtieth_after_are_logged_and_the_recovery_counts_them() -> None:
    streak = FailureStreak()
    loud = [k + 1 for k in range(130) if streak.failed()]
    assert loud == [1, 61, 121]
    assert streak.succeeded() == 130
    assert streak.succeeded() == 0 and streak.failed()


def test_a_streak_of_every_try_logs_each() -> None:
    streak = FailureStreak(every=0)
    assert all(streak.failed() for _ in range(5))
