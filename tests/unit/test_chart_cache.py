"""The overview chart's cache: fifty overviews opened at once drew the chart fifty times, a second of a server
thread each, and held every thread of the page for 25 s."""

from __future__ import annotations

import threading
import time

from services.analytics.web.chart_cache import ChartCache


class Drawer:
    """A chart drawing that takes a while and counts how often it ran."""

    def __init__(self, png: bytes) -> None:
        self.png, self.runs, self._lock = png, 0, threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.runs += 1
        time.sleep(0.05)
        return self.png


def test_many_asking_at_once_for_one_chart_get_it_from_one_drawing() -> None:
    charts, analysis, draw = ChartCache(), object(), Drawer(b"png-1")
    got: list[bytes] = []
    askers = [threading.Thread(target=lambda: got.append(charts.png(analysis, 3, draw))) for _ in range(30)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    assert got == [b"png-1"] * 30 and draw.runs == 1


def test_a_new_analysis_or_another_set_shown_is_drawn_again_and_the_old_analysis_is_forgotten() -> None:
    charts, first, second = ChartCache(), object(), object()
    a, b, c = Drawer(b"a"), Drawer(b"b"), Drawer(b"c")
    assert charts.png(first, 3, a) == b"a" and charts.png(first, 3, Drawer(b"never")) == b"a"
    assert charts.png(first, 2, b) == b"b", "another set shown is another chart"
    assert charts.png(second, 3, c) == b"c", "a new analysis draws afresh"
    assert charts.png(first, 3, Drawer(b"again")) == b"again", "the old analysis's charts are gone"
    assert (a.runs, b.runs, c.runs) == (1, 1, 1)


def test_past_the_charts_kept_a_chart_is_drawn_for_each_request_and_still_right() -> None:
    charts, analysis = ChartCache(keep=2), object()
    for key in (1, 2, 3):
        charts.png(analysis, key, Drawer(str(key).encode()))
    late = Drawer(b"3")
    assert charts.png(analysis, 3, late) == b"3" and late.runs == 1
    assert charts.png(analysis, 1, Drawer(b"x")) == b"1"
