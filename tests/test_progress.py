"""Progress of long work without a terminal: a line at least every interval, with a rate and time left."""

from __future__ import annotations

import logging

import pytest

from qa.progress import logged_progress


class Clock:
    """A clock the test moves by hand: the lines depend on the seconds it says, not on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_logged_progress_speaks_every_interval_with_rate_and_time_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A long task logs its first report, then a line once the interval has passed (rate and time
    left), never more often, and its end with the time it took."""
    clock = Clock()
    report = logged_progress(logging.getLogger("test.progress"), interval=30, clock=clock)
    caplog.set_level(logging.INFO, "test.progress")
    report(256, 44_395, "embedding")
    for done in range(512, 2048, 256):  # many reports within the interval: silent
        clock.now += 4
        report(done, 44_395, "embedding")
    clock.now += 10  # 34 s after the first line, 2048 - 256 passages later
    report(2048, 44_395, "embedding")
    clock.now += 31
    report(3072, 44_395, "embedding")
    clock.now += 1
    report(44_395, 44_395, "embedding")
    assert caplog.messages == [
        "embedding: 256/44395",
        "embedding: 2048/44395 (5%, 52.7/s, about 13 min 23 s left)",
        "embedding: 3072/44395 (7%, 43.3/s, about 15 min 54 s left)",
        "embedding: 44395/44395 in 1 min 6 s (668.8/s)",
    ]


def test_logged_progress_keeps_tasks_apart_and_starts_again(caplog: pytest.LogCaptureFixture) -> None:
    """Tasks are timed apart, a task begun again is new, and one step's report is logged once."""
    clock = Clock()
    report = logged_progress(logging.getLogger("test.progress"), interval=30, clock=clock)
    caplog.set_level(logging.INFO, "test.progress")
    report(1, 1, "reading")
    report(1, 1, "reading")
    report(10, 100, "embedding")
    clock.now += 5
    report(100, 100, "embedding")
    report(5, 50, "embedding")  # the next batch of articles
    assert caplog.messages == [
        "reading: 1/1",
        "embedding: 10/100",
        "embedding: 100/100 in 5 s (18.0/s)",
        "embedding: 5/50",
    ]
