"""Prometheus metrics of one app: requests by route and status, latency, index size."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "<unmatched>"


class Metrics:
    """The metrics of one app, in a registry of its own (several apps may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by route template, method and status code.",
            ["path", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["path"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.articles = Gauge("qa_index_articles", "Articles in the index.", registry=self.registry)
        self.chunks = Gauge("qa_index_chunks", "Chunks in the index.", registry=self.registry)

    def render(self, stats: dict[str, int] | None) -> bytes:
        """The Prometheus text exposition, with the index size from ``stats`` when known."""
        if stats is not None:
            self.articles.set(stats.get("articles", 0))
            self.chunks.set(stats.get("chunks", 0))
        return generate_latest(self.registry)


def route_label(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template a request belongs to (bounded label values, never the raw path)."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return _template(route)
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is not Match.NONE and hasattr(candidate, "path"):
            return _template(candidate)
    return UNMATCHED


def _template(route: BaseRoute) -> str:
    """The route's path as OpenAPI lists it: ``/documents/{doc_id}``, not ``{doc_id:path}``."""
    return str(getattr(route, "path_format", None) or getattr(route, "path", ""))


class MetricsMiddleware:
    """Counts every HTTP response (refusals included) and times it."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            label = route_label(self.routes(), scope)
            self.metrics.requests.labels(label, scope["method"], str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)
