"""Fetches refuse addresses inside the server's network; no test here connects beyond loopback.

Refusals of private, link-local and other ranges are checked where the address is decided: a
resolver the test controls names the address, and the connection beneath the guard is a recorder
that never connects, so a broken check fails the test without any traffic leaving the machine.
Loopback is refused for real (POST /feeds to a real uvicorn server). A redirect is checked with two
loopback sites, one of which (127.0.0.2) the classifier is told to treat as public.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from qa.config import Settings
from qa.engine import Engine
from qa.errors import AddressRefusedError, FetchError
from qa.web.addresses import Address, GuardedBackend, refuse_inside_url, refused_kind, resolve
from qa.web.fetching import Fetcher
from tests.conftest import SEEDS, serve_in_thread
from tests.embedders import HashEmbedder
from tests.web_site import Site, publish, serve_site

served = contextmanager(serve_in_thread)

KEY = "fetch-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "reserved"),
        ("192.0.2.1", "private"),
        ("240.0.0.1", "private"),
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_refused_kind_names_every_address_that_is_not_public(address: str, kind: str | None) -> None:
    """Loopback, private, link-local, multicast and other non-public addresses are named; public ones pass."""
    assert refused_kind(ipaddress.ip_address(address)) == kind


class Recorder(httpcore.NetworkBackend):
    """httpcore's network backend that records connection attempts and never connects."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("the recorder never connects")


def fixed(*addresses: str) -> Any:
    """A resolver that answers these addresses for every name."""
    return lambda host, port: [ipaddress.ip_address(a) for a in addresses]


def fetcher(tmp_path: Path, network: httpcore.NetworkBackend, **settings: Any) -> Fetcher:
    return Fetcher(Settings(index_dir=tmp_path, fetch_delay=0, fetch_timeout=2.0, **settings), network)


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.0.0.1",),
        ("192.168.0.10",),
        ("169.254.169.254",),
        ("fd12:3456::1",),
        ("fe80::1",),
        ("224.0.0.251",),
        ("::ffff:172.16.0.1",),
        ("93.184.216.34", "10.0.0.1"),  # one private address among public ones is enough
    ],
)
def test_a_name_that_resolves_inside_the_network_is_refused_before_connecting(
    tmp_path: Path, addresses: tuple[str, ...]
) -> None:
    """The fetcher resolves the name, refuses the address, and never reaches the connection."""
    recorder = Recorder()
    guard = GuardedBackend(recorder, resolver=fixed(*addresses))
    with pytest.raises(AddressRefusedError, match="QA_FETCH_ALLOW_PRIVATE") as refused:
        fetcher(tmp_path, guard).fetch("http://news.example/feed.xml")
    assert refused.value.path == "http://news.example/robots.txt"  # the first request of the host
    assert recorder.attempts == []


@pytest.mark.parametrize(
    "addresses", [("10.0.0.1",), ("169.254.169.254",), ("93.184.216.34", "fd12:3456::1")]
)
def test_a_webhook_whose_name_resolves_inside_the_network_is_refused_unsent(
    addresses: tuple[str, ...],
) -> None:
    """`POST /watches` checks a webhook as delivery would: its host's addresses are classified (here
    a name answering private, link-local or mixed addresses) and the URL is named; nothing is sent,
    and a public one passes."""
    with pytest.raises(AddressRefusedError, match="QA_FETCH_ALLOW_PRIVATE") as refused:
        refuse_inside_url("https://hooks.example/new", resolver=fixed(*addresses))
    assert refused.value.path == "https://hooks.example/new"
    refuse_inside_url("https://hooks.example/new", resolver=fixed("93.184.216.34"))


def test_a_public_address_is_connected_to_as_checked(tmp_path: Path) -> None:
    """A name whose addresses are all public is connected to at the address checked, not resolved again."""
    recorder = Recorder()
    guard = GuardedBackend(recorder, resolver=fixed("93.184.216.34", "2606:2800::1"))
    with pytest.raises(FetchError, match=r"robots\.txt: cannot fetch"):  # the recorder never connects
        fetcher(tmp_path, guard).fetch("http://news.example/feed.xml")
    assert recorder.attempts == [("93.184.216.34", 80), ("2606:2800::1", 80)]


def test_the_real_resolver_reads_literal_addresses() -> None:
    """An address written in the URL is what is checked (no DNS needed)."""
    assert resolve("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]
    assert resolve("::1", 80) == [ipaddress.ip_address("::1")]


def _public_127_0_0_2(address: Address) -> str | None:
    """The real classifier, except that 127.0.0.2 plays a public site (tests only)."""
    return None if address == ipaddress.ip_address("127.0.0.2") else refused_kind(address)


def test_a_redirect_to_a_refused_address_is_refused(tmp_path: Path, site: Site) -> None:
    """A "public" site's redirect to a loopback one is checked at the hop: refused, nothing reaches it."""
    with serve_site("127.0.0.2") as public:
        public.put("/feed.xml", b"", status=302, headers={"Location": site.url("/rss.xml")})
        publish(site)
        guard = GuardedBackend(classifier=_public_127_0_0_2)
        with pytest.raises(AddressRefusedError, match=r"127\.0\.0\.1, a loopback address") as refused:
            fetcher(tmp_path, guard).fetch(public.url("/feed.xml"))
        assert refused.value.path == site.url("/robots.txt")
        assert [r.path for r in public.requests] == ["/robots.txt", "/feed.xml"]  # it was reached
        assert site.requests == []  # the loopback site never was


@pytest.fixture
def serving_engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Engine, Settings]]:
    """An engine over the seeds, with the settings a served app gets (the key set)."""
    allow: bool = request.param
    settings = Settings(
        index_dir=tmp_path / "index",
        reader="off",
        fetch_delay=0,
        api_key=KEY,
        rate_limit=0,
        fetch_allow_private=allow,
    )
    engine = Engine(settings, embedder=HashEmbedder())
    engine.index_paths([SEEDS])
    yield engine, settings
    engine.close()


@pytest.mark.parametrize(
    ("serving_engine", "status"), [(False, 422), (True, 201)], indirect=["serving_engine"]
)
def test_a_served_post_feeds_to_loopback_is_refused_unless_allowed(
    serving_engine: tuple[Engine, Settings], site: Site, status: int
) -> None:
    """A real uvicorn server answers POST /feeds with a loopback URL with 422 address_refused, and
    registers it with QA_FETCH_ALLOW_PRIVATE=1."""
    engine, settings = serving_engine
    feed = publish(site)
    with served(settings, engine) as base:
        response = httpx.post(f"{base}/feeds", json={"url": feed}, headers=AUTH, timeout=30)
    assert response.status_code == status, response.text
    if status == 422:
        error = response.json()["error"]
        assert error["code"] == "address_refused"
        assert "loopback" in error["message"] and "QA_FETCH_ALLOW_PRIVATE" in error["message"]
        assert site.requests == [] and engine.feeds() == []
    else:
        assert [f.url for f in engine.feeds()] == [feed]


def test_a_sitemap_is_read_up_to_the_page_cap(tmp_path: Path, site: Site) -> None:
    """QA_FETCH_MAX_PAGES caps the pages read from one sitemap; the rest are not fetched."""
    publish(site)
    pages = ["/news/bridge.html", "/news/ferry.html", "/news/museum.html"]
    urls = "".join(f"<url><loc>{site.url(p)}</loc></url>" for p in pages)
    sitemap = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    url = site.put("/sitemap.xml", sitemap, content_type="application/xml")
    settings = Settings(
        index_dir=tmp_path / "index", reader="off", fetch_delay=0, fetch_allow_private=True, fetch_max_pages=2
    )
    engine = Engine(settings, embedder=HashEmbedder())
    report = engine.index_paths([], urls=[url])
    engine.close()
    assert len(report.added) == 2
    assert site.hits("/news/museum.html") == []
