"""Polling the feeds in the background while a front end serves (``--refresh 15m``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from qa.engine import Engine
from qa.errors import QAError

logger = logging.getLogger(__name__)


class Refresher:
    """A thread that polls every registered feed at once, then every ``interval`` seconds."""

    def __init__(self, engine: Engine, interval: float, after: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.after = after  # called after each poll (the front end sends the watches' new answers)
        self.polls = 0  # finished polls, successful or not
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin polling (call once the index is ready)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qa-refresh", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; a poll under way is left to finish on its own (the index stays whole)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)

    def poll_once(self) -> None:
        """One poll of every feed; problems are logged, never raised (this runs on its own thread)."""
        try:
            report = self.engine.refresh()
        except QAError as exc:
            logger.warning("refreshing the feeds failed: %s", exc)
        except Exception:  # a thread boundary: log it and poll again next time
            logger.exception("refreshing the feeds failed")
        else:
            if report.added or report.skipped:
                logger.info(
                    "feeds refreshed: %d articles added or changed, %d unchanged, %d skipped",
                    len(report.added),
                    report.unchanged,
                    len(report.skipped),
                )
        self.polls += 1
        if self.after is not None:
            self.after()
