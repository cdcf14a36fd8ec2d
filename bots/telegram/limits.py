"""Flow control for the Telegram bot: retries toward the Bot API and a per-chat rate limit."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from enum import Enum
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

# Requests that are safe to repeat after a timeout (the first attempt may have gone through).
IDEMPOTENT_ENDPOINTS = frozenset(
    {"sendChatAction", "answerCallbackQuery", "setMyCommands", "editMessageReplyMarkup", "getMe"}
)
_MAX_CHATS_TRACKED = 10_000


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait, in seconds, whatever PTB's time-period setting."""
    with warnings.catch_warnings():
        # PTB warns about the int -> timedelta migration on every read of ``retry_after``.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryingRateLimiter(BaseRateLimiter[int]):
    """Retry requests hit by flood control (waiting as told) or by transient network errors.

    Network errors back off exponentially from ``backoff`` seconds; a timed-out request is only
    repeated when repeating it cannot duplicate a message.
    """

    def __init__(self, max_retries: int = 5, backoff: float = 1.0, max_backoff: float = 30.0):
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _delay(self, error: Exception, endpoint: str, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up."""
        if attempt >= self.max_retries:
            return None
        if isinstance(error, RetryAfter):
            return retry_after_seconds(error) + 0.1
        if isinstance(error, BadRequest):
            return None
        if isinstance(error, TimedOut) and endpoint not in IDEMPOTENT_ENDPOINTS:
            return None
        if isinstance(error, NetworkError):
            return float(min(self.backoff * 2**attempt, self.max_backoff))
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Call the Bot API, retrying as described in the class docstring."""
        attempt = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except (RetryAfter, NetworkError) as error:
                delay = self._delay(error, endpoint, attempt)
                if delay is None:
                    raise
                attempt += 1
                logger.warning("%s failed (%s); retry %d in %.1f s", endpoint, error, attempt, delay)
                await asyncio.sleep(delay)


class Admission(Enum):
    """What to do with a chat's message under the rate limit."""

    ALLOW = "allow"
    WARN = "warn"  # over the limit: say so once
    DROP = "drop"  # over the limit and already told


class ChatRateLimit:
    """At most ``per_minute`` messages per chat in any sliding minute (0: unlimited)."""

    def __init__(self, per_minute: int, window_seconds: float = 60.0) -> None:
        self._limit = per_minute
        self._window = window_seconds
        self._hits: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()

    def check(self, chat_id: int) -> Admission:
        """Count one message from ``chat_id`` and say whether to answer it."""
        if self._limit <= 0:
            return Admission.ALLOW
        now = time.monotonic()
        hits = self._hits.setdefault(chat_id, deque())
        self._hits.move_to_end(chat_id)
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        while len(self._hits) > _MAX_CHATS_TRACKED:
            oldest, _ = self._hits.popitem(last=False)
            self._warned.discard(oldest)
        if len(hits) < self._limit:
            hits.append(now)
            self._warned.discard(chat_id)
            return Admission.ALLOW
        if chat_id in self._warned:
            return Admission.DROP
        self._warned.add(chat_id)
        return Admission.WARN
