"""Progress of long work where no bar is drawn: log lines with a rate and the time left."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from qa.runtime.embedding import Progress

LOG_INTERVAL = 30.0  # seconds: the longest silence of a long task without a terminal
# What long work has done so far, for the user: the CLI shows it by default (``-q`` hides it).
progress_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Task:
    """When a task was first reported, how far it was then, and when a line was last logged."""

    started: float
    first_done: int
    logged: float
    done: int


def logged_progress(
    log: logging.Logger, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic
) -> Progress:
    """A progress callback that logs a task's first report, its end, and in between a line whenever
    ``interval`` seconds (by ``clock``) passed since the last one: done/total, rate, time left."""
    tasks: dict[str, _Task] = {}

    def report(done: int, total: int, description: str) -> None:
        now = clock()
        task = tasks.get(description)
        if task is None or done < task.done:  # a new task, or the same work begun again
            tasks[description] = _Task(now, done, now, done)
            log.info("%s: %d/%d", description, done, total)
            return
        if done == task.done:  # nothing new to say
            return
        task.done = done
        if done < total and now - task.logged < interval:
            return
        task.logged = now
        log.info("%s: %d/%d%s", description, done, total, _pace(task, done, total, now))

    return report


def _pace(task: _Task, done: int, total: int, now: float) -> str:
    """``(12%, 85.3/s, about 8 min 40 s left)``, or ``in 3 min 5 s (85.3/s)`` at the end."""
    elapsed = now - task.started
    rate = (done - task.first_done) / elapsed if elapsed > 0 else 0.0
    if done >= total:
        return f" in {_duration(elapsed)}" + (f" ({rate:.1f}/s)" if rate else "")
    share = f"{100 * done / total:.0f}%" if total else "?"
    if not rate:
        return f" ({share})"
    return f" ({share}, {rate:.1f}/s, about {_duration((total - done) / rate)} left)"


def _duration(seconds: float) -> str:
    """``45 s``, ``8 min 40 s``, ``2 h 5 min``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
