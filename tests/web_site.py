"""A news site on 127.0.0.1 for the tests: feeds, sitemaps, robots.txt and pages, good and bad."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """What one path answers."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds before the answer starts
    drip: float = 0.0  # seconds between single bytes of the body (a server that never finishes)
    declare_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One request the site received."""

    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]


class Site:
    """The routes and the log of requests of a running site."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        """The absolute URL of a path on the site."""
        return self.base + path

    def put(self, path: str, body: str | bytes, **options: Any) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, **options)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        """The requests made for ``path`` (query included), oldest first."""
        with self.lock:
            return [r for r in self.requests if r.path == path]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append(Request(time.monotonic(), self.path, dict(self.headers.items())))
            route = site.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            time.sleep(route.delay)
            matches_etag = route.etag is not None and self.headers.get("If-None-Match") == route.etag
            matches_date = (
                route.last_modified is not None
                and self.headers.get("If-Modified-Since") == route.last_modified
            )
            self.send_response(304 if matches_etag or matches_date else route.status)
            self.send_header("Content-Type", route.content_type)
            for name, value in [("ETag", route.etag), ("Last-Modified", route.last_modified)]:
                if value is not None:
                    self.send_header(name, value)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if matches_etag or matches_date:
                self.end_headers()
                return
            if route.declare_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if not route.drip:
                self.wfile.write(route.body)
                return
            for byte in route.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(route.drip)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow answer is expected here


@contextmanager
def serve_site(host: str = "127.0.0.1") -> Iterator[Site]:
    """Run a site on a free port of ``host`` (a loopback address) until the block ends."""
    server = _Server((host, 0), BaseHTTPRequestHandler)
    site = Site(f"http://{host}:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def article_page(
    title: str, paragraphs: list[str], date: str | None = None, canonical: str | None = None
) -> str:
    """A news page as sites serve them: navigation, a dated article, a footer."""
    head = f"<title>{title}</title>"
    if date:
        head += f'<meta property="article:published_time" content="{date}">'
    if canonical:
        head += f'<link rel="canonical" href="{canonical}">'
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head>{head}</head><body><nav>Home | World | Sport</nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>Copyright the Gazette</footer></body></html>"
    )


def rss(title: str, items: list[tuple[str, str, str | None]]) -> str:
    """An RSS 2.0 feed of ``(title, link, pubDate)`` items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link>" + (f"<pubDate>{d}</pubDate>" if d else "") + "</item>"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>{entries}</channel></rss>"
    )


BRIDGE = article_page(
    "Harbour bridge reopens",
    [
        "The harbour bridge in Vellmoor reopened on Tuesday after eight months of repairs, the council said.",
        "Engineers replaced forty steel cables and resurfaced the deck at a cost of twelve million euros.",
    ],
    date="2024-03-05T09:30:00",
    canonical="https://gazette.example/bridge",
)
FERRY = article_page(
    "Ferry strike ends",
    [
        "Ferry crews on the northern route ended their strike after the operator agreed to a pay rise.",
        "Sailings to the islands resume on Friday morning with the summer timetable.",
    ],
)
MUSEUM = article_page(
    "Glass museum opens",
    [
        "A museum devoted to glassblowing opened in the old customs house, with four hundred objects.",
        "Its first exhibition shows bottles made on the coast since the eighteenth century.",
    ],
    date="2024-03-07T12:00:00",
)


def publish(site: Site) -> str:
    """Three pages and an RSS feed listing the first two; returns the feed's URL."""
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.put("/news/bridge.html", BRIDGE)
    site.put("/news/ferry.html", FERRY)
    site.put("/news/museum.html", MUSEUM)
    items = [
        ("Harbour bridge reopens", "/news/bridge.html", "Tue, 05 Mar 2024 09:30:00 GMT"),
        ("Ferry strike ends", site.url("/news/ferry.html"), "Wed, 06 Mar 2024 08:00:00 GMT"),
    ]
    return site.put("/rss.xml", rss("The Gazette", items), content_type="application/rss+xml")
