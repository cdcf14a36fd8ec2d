"""Polite HTTP: robots.txt, one request at a time per host with a delay, conditional GET, limits."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from qa import __version__
from qa.config import Settings
from qa.errors import AddressRefusedError, FetchError
from qa.web.addresses import guarded_transport

logger = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/qa-bot/qa-bot"
USER_AGENT = f"qa-bot/{__version__} (+{PROJECT_URL})"
ROBOTS_AGENT = "qa-bot"  # the name robots.txt rules are matched against
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
)
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 500_000
ROBOTS_TTL = 3600.0  # seconds a host's robots.txt is trusted before it is read again
MAX_CRAWL_DELAY = 60.0  # a larger Crawl-delay would stall a refresh for hours
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """True for anything written as a URL (``scheme://...``); only http(s) ones are fetched."""
    return bool(_SCHEME.match(text.strip()))


def normalize_url(url: str) -> str:
    """The URL without its fragment, scheme and host in lower case; ``FetchError`` unless http(s)."""
    try:
        parts = urlsplit(url.strip())
        host, _ = parts.hostname, parts.port  # both raise ValueError when malformed
    except ValueError:
        raise FetchError(url, "not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(url, "only http:// and https:// URLs are fetched")
    if not host:
        raise FetchError(url, "no host in the URL")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class Fetched:
    """One response: the URL that answered (after redirects), its body and its validators."""

    url: str
    status: int  # 2xx, or 304 when the validators sent still match
    content_type: str  # media type in lower case, without parameters ("" when not given)
    charset: str | None
    body: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304: what was fetched before is still current."""
        return self.status == 304

    def text_bytes(self) -> bytes:
        """The body as UTF-8 when the server declared another charset, else as sent."""
        charset = (self.charset or "").lower()
        if not charset or charset.replace("-", "") in ("utf8", "usascii"):
            return self.body
        try:
            return self.body.decode(charset, errors="replace").encode("utf-8")
        except LookupError:  # an unknown charset name: let the loader guess
            return self.body


@dataclass
class _Host:
    """What is known of one origin: its request gate and its robots.txt."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ready_at: float = 0.0  # monotonic time before which the next request must not start
    delay: float = 0.0
    robots: RobotFileParser | None = None
    robots_problem: str | None = None
    robots_read: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes


class Fetcher:
    """Fetches URLs politely; one instance per engine, safe to share between threads.

    Unless ``QA_FETCH_ALLOW_PRIVATE`` is on, every connection goes through ``network`` (by default a
    ``qa.web.addresses.GuardedBackend``): only public addresses are reached."""

    def __init__(self, settings: Settings, network: httpcore.NetworkBackend | None = None) -> None:
        self.delay = settings.fetch_delay
        self.timeout = settings.fetch_timeout
        self.max_bytes = settings.fetch_max_bytes
        self.max_pages = settings.fetch_max_pages
        guarded = network is not None or not settings.fetch_allow_private
        self._client = httpx.Client(
            transport=guarded_transport(network) if guarded else None,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # each hop is checked against its own host's robots.txt
            trust_env=False,
        )
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET ``url`` (conditionally when validators are given); ``FetchError`` when it fails."""
        current = normalize_url(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _ in range(MAX_REDIRECTS + 1):
            self._check_robots(current)
            response = self._request(current, headers, self.max_bytes)
            location = response.headers.get("location")
            if response.status in _REDIRECTS and location:
                current = normalize_url(urljoin(current, location))
                continue
            if response.status != 304 and not 200 <= response.status < 300:
                raise FetchError(url, f"HTTP {response.status}")
            media, _, params = response.headers.get("content-type", "").partition(";")
            charset = re.search(r"charset=\"?([\w.:-]+)", params, re.IGNORECASE)
            return Fetched(
                url=current,
                status=response.status,
                content_type=media.strip().lower(),
                charset=charset.group(1) if charset else None,
                body=response.body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

    def _host(self, origin: str) -> _Host:
        with self._hosts_lock:
            return self._hosts.setdefault(origin, _Host(delay=self.delay))

    def _request(self, url: str, headers: dict[str, str], limit: int) -> _Response:
        """One GET, after the host's delay and while holding its gate; the body only when 2xx."""
        host = self._host(_origin(url))
        with host.lock:
            pause = host.ready_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                return self._send(url, headers, limit)
            finally:
                host.ready_at = time.monotonic() + host.delay

    def _send(self, url: str, headers: dict[str, str], limit: int) -> _Response:
        started = time.monotonic()
        logger.debug("GET %s", url)
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if not 200 <= response.status_code < 300:
                    return _Response(response.status_code, response.headers, b"")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(url, f"too large ({int(declared):,} bytes; the limit is {limit:,})")
                parts: list[bytes] = []
                size = 0
                for part in response.iter_bytes():
                    size += len(part)
                    if size > limit:
                        raise FetchError(url, f"too large (more than {limit:,} bytes)")
                    if time.monotonic() - started > self.timeout:
                        raise FetchError(url, f"timed out after {self.timeout:g} s")
                    parts.append(part)
                return _Response(response.status_code, response.headers, b"".join(parts))
        except AddressRefusedError as exc:
            raise AddressRefusedError(url, exc.reason) from None
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out after {self.timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: a bad host name
            raise FetchError(url, f"cannot fetch ({exc or type(exc).__name__})") from None

    def _check_robots(self, url: str) -> None:
        """``FetchError`` when the host's robots.txt disallows ``url`` for qa-bot, or cannot be read."""
        origin = _origin(url)
        host = self._host(origin)
        if host.robots is None or time.monotonic() - host.robots_read > ROBOTS_TTL:
            host.robots, host.robots_problem = self._read_robots(origin)
            host.robots_read = time.monotonic()
            crawl_delay = host.robots.crawl_delay(ROBOTS_AGENT)
            host.delay = max(self.delay, min(float(crawl_delay or 0), MAX_CRAWL_DELAY))
            host.ready_at = time.monotonic() + host.delay  # robots.txt was a request too
        if host.robots_problem:
            raise FetchError(url, host.robots_problem)
        if not host.robots.can_fetch(ROBOTS_AGENT, url):
            raise FetchError(url, "disallowed by the site's robots.txt")

    def _read_robots(self, origin: str) -> tuple[RobotFileParser, str | None]:
        """The origin's robots.txt rules, and why nothing may be fetched when it cannot be read.

        As RFC 9309 says: no robots.txt (4xx) allows everything; a failing one (5xx, no answer)
        forbids everything until it is read again."""
        rules = RobotFileParser(f"{origin}/robots.txt")
        try:
            response = self._request(f"{origin}/robots.txt", {}, ROBOTS_MAX_BYTES)
        except AddressRefusedError:
            raise  # the host itself is refused, not only its robots.txt
        except FetchError as exc:
            return rules, f"robots.txt: {exc.reason}"
        if 200 <= response.status < 300:
            rules.parse(response.body.decode("utf-8", errors="replace").splitlines())
        elif 300 <= response.status < 500:
            # A redirected robots.txt usually means the whole site moved: its pages redirect
            # too, and are checked against the new host's rules.
            rules.parse([])  # no rules: everything is allowed
        else:
            return rules, f"robots.txt: HTTP {response.status}, so nothing on this host is fetched"
        return rules, None
