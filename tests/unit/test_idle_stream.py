"""paced: a stream's messages with a limit on the wait between two of them (identity's AnalyzeVideo)."""

import threading
import time

import pytest

from services.identity.idle_stream import StreamIdle, paced


def test_the_messages_come_in_order_and_the_stream_ends_with_its_source():
    assert list(paced(iter([1, 2, 3]), idle_s=5)) == [1, 2, 3]


def test_an_error_of_the_source_is_raised_to_the_reader():
    def failing():
        yield 1
        raise KeyError("client cancelled")

    messages = paced(failing(), idle_s=5)
    assert next(messages) == 1
    with pytest.raises(KeyError, match="client cancelled"):
        next(messages)


def test_a_source_that_sends_nothing_more_is_idle_after_the_limit_and_its_reader_is_let_go():
    release = threading.Event()

    def stalls():
        yield 1
        release.wait()
        yield 2

    messages = paced(stalls(), idle_s=0.2)
    assert next(messages) == 1
    started = time.monotonic()
    with pytest.raises(StreamIdle, match="no message for 0.2 s"):
        next(messages)
    assert time.monotonic() - started < 5
    release.set()  # the source goes on: its reader, left, takes nothing more


def test_time_the_reader_spends_on_a_message_is_not_idle_time():
    seen = []
    for message in paced(iter(range(3)), idle_s=0.2):
        time.sleep(0.4)  # longer than the limit, between two reads
        seen.append(message)
    assert seen == [0, 1, 2]
