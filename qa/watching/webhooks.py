"""Posting the watches' new answers to their webhooks, from a thread of the serving process."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from qa.errors import AddressRefusedError
from qa.watching.records import Delivery
from qa.watching.service import Watching
from qa.web.addresses import guarded_transport
from qa.web.fetching import USER_AGENT

logger = logging.getLogger(__name__)

MAX_PARALLEL = 8  # webhooks posted at once: a slow one delays none of the others


class WebhookSender:
    """Posts pending answers every ``QA_WATCH_POLL`` and when woken (after an upload or refresh)."""

    def __init__(self, watching: Watching) -> None:
        self.watching = watching
        self.interval = watching.settings.watch_poll
        allow_private = watching.settings.fetch_allow_private
        self._client = httpx.Client(
            transport=None if allow_private else guarded_transport(),  # only public addresses
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(watching.settings.webhook_timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._pool = ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="qa-webhook")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin posting (once the index is ready): what is pending now, then every interval."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qa-webhooks", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Post what is pending now, not at the end of the interval."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop posting and close the connections."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver()
            except Exception:  # a thread boundary: log it and try again next time
                logger.exception("posting the watches' answers failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def deliver(self) -> int:
        """Post every pending answer, several at once; returns how many were delivered."""
        pending = self.watching.pending("webhook")
        return sum(self._pool.map(self._post, pending))

    def _post(self, delivery: Delivery) -> bool:
        """POST one answer; a failure is recorded with its reason, to be retried after the next check."""
        url = delivery.watch.webhook or ""
        try:
            response = self._client.post(url, json=delivery.payload())
        except AddressRefusedError as exc:
            self.watching.failed(delivery, exc.reason)
            return False
        except httpx.TimeoutException:
            self.watching.failed(delivery, f"timed out after {self.watching.settings.webhook_timeout:g} s")
            return False
        except httpx.HTTPError as exc:
            self.watching.failed(delivery, f"cannot post ({exc or type(exc).__name__})")
            return False
        if not 200 <= response.status_code < 300:
            self.watching.failed(delivery, f"HTTP {response.status_code}")
            return False
        self.watching.sent(delivery)
        return True
