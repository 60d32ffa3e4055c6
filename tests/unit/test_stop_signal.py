"""A stop signal that lands inside an uninterrupted section is handled once the section closes."""
import os
import signal
import threading

from services.common.stop_signal import deferred, uninterrupted


def test_a_signal_inside_a_section_waits_for_its_end_and_comes_once_even_if_sent_twice() -> None:
    handled: list[str] = []

    def handler(signum: int, frame: object) -> None:
        handled.append("deferred" if deferred(signum) else "handled")

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with uninterrupted():
            with uninterrupted():  # nested: the outer end releases it
                os.kill(os.getpid(), signal.SIGUSR1)
                os.kill(os.getpid(), signal.SIGUSR1)
            assert handled == ["deferred", "deferred"]
        assert handled == ["deferred", "deferred", "handled"]
        os.kill(os.getpid(), signal.SIGUSR1)
        assert handled[-1] == "handled", "no section open: handled at once"
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_section_in_another_thread_defers_the_main_threads_handler() -> None:
    handled: list[str] = []
    inside, leave = threading.Event(), threading.Event()

    def handler(signum: int, frame: object) -> None:
        handled.append("deferred" if deferred(signum) else "handled")

    def section() -> None:
        with uninterrupted():
            inside.set()
            leave.wait(10)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        worker = threading.Thread(target=section)
        worker.start()
        inside.wait(10)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert handled == ["deferred"]
        leave.set()
        worker.join(10)
        for _ in range(100):  # raised again from that thread: the main thread handles it at its next step
            if len(handled) == 2:
                break
            threading.Event().wait(0.01)
        assert handled == ["deferred", "handled"]
    finally:
        signal.signal(signal.SIGUSR1, previous)
