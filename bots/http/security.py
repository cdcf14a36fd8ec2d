"""The HTTP guard: per-client rate limit, bearer key, request body limit, security headers."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bots.http.error_bodies import APIError, error_response
from qa.config import Settings

# Paths anyone may fetch even when QA_API_KEY is set: the health probe and the static chat page
# (it holds no data; it asks the person for the key when the API answers 401).
PUBLIC_PATHS = frozenset({"/", "/health"})
PUBLIC_PREFIXES = ("/static/",)
# Never rate-limited: the health probe, and the chat page and its files (loading the page cost four
# of a client's requests a minute, and a limited page load showed the browser a JSON error).
UNLIMITED_PATHS = frozenset({"/health", "/"})


bearer_scheme = HTTPBearer(auto_error=False, description="The value of QA_API_KEY.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def write_access(settings: Settings) -> Callable[[Request, Credentials], None]:
    """The dependency that guards changes: a configured key, carried by the request."""

    def require_write_access(request: Request, _: Credentials) -> None:
        """Document, feed and watch changes need a configured key, and the request must carry it."""
        if not settings.api_key:
            raise APIError(
                403,
                "writes_disabled",
                "Changing documents, feeds and watches is disabled: the server has no QA_API_KEY configured.",
            )
        refusal = key_refusal(request.headers.get("authorization"), settings.api_key)
        if refusal is not None:
            raise APIError(401, "unauthorized", refusal)

    return require_write_access


def is_public(path: str) -> bool:
    """True for paths that need no API key."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def bearer_token(authorization: str | None) -> str | None:
    """The key an ``Authorization: Bearer <key>`` header carries; None when it carries none."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_refusal(authorization: str | None, api_key: str) -> str | None:
    """Why an ``Authorization`` header does not open the API (no key sent, or a wrong one); None if it
    carries ``Bearer <api_key>`` (compared in constant time)."""
    token = bearer_token(authorization)
    if token is None:
        return "This service needs an API key: send 'Authorization: Bearer <key>'."
    if not hmac.compare_digest(token.encode("utf-8"), api_key.encode("utf-8")):
        return "The API key sent is not the right one."
    return None


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously; bounded memory."""

    def __init__(
        self,
        per_minute: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, stamp
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Take one token for ``client``: 0.0 when allowed, else the seconds until one is free."""
        if self.capacity <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            self._buckets.move_to_end(client)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)  # the least recently seen client
        return wait


def client_address(scope: Scope) -> str:
    """The client's address (uvicorn resolves trusted proxy headers into it)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class _BodyTooLargeError(Exception):
    """Raised inside the app's ``receive`` once the body passes the limit."""


class GuardMiddleware:
    """Refuses requests over the rate limit (429), without the key (401) or too large (413)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        rate_limiter: RateLimiter,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.rate_limiter = rate_limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._call_with_body_limit(scope, receive, send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if path not in UNLIMITED_PATHS and not path.startswith(PUBLIC_PREFIXES):
            wait = self.rate_limiter.acquire(client_address(scope))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                return error_response(
                    429,
                    "rate_limited",
                    f"Too many requests; try again in {seconds} s.",
                    {"Retry-After": str(seconds)},
                )
        if self.api_key and not is_public(path):
            refusal = key_refusal(headers.get("authorization"), self.api_key)
            if refusal is not None:
                return error_response(401, "unauthorized", refusal, {"WWW-Authenticate": "Bearer"})
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return error_response(
            413,
            "payload_too_large",
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )

    async def _call_with_body_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if started:
                    return
                started = True
                if too_large:  # whatever the app made of the aborted read, answer 413
                    await self._too_large()(scope, receive, send)
                    return
            elif too_large:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
            if not started:
                started = True
                await self._too_large()(scope, receive, send)


def _with_security_headers(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers.setdefault("X-Content-Type-Options", "nosniff")
        await send(message)

    return send_with_headers
