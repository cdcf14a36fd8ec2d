"""Articles from the web: feeds, sitemaps and pages from a local site, fetched politely and incrementally."""

from __future__ import annotations

import gzip
import itertools
import logging
from pathlib import Path

import pytest

from qa.config import Settings, parse_duration
from qa.engine import Engine
from qa.errors import DocumentError, FeedNotFoundError
from qa.web.fetching import USER_AGENT, Fetcher
from tests.embedders import HashEmbedder
from tests.web_site import BRIDGE, FERRY, MUSEUM, Site, publish, rss


def articles_by_title(engine: Engine) -> dict[str, tuple[str | None, str, str | None]]:
    return {d.title: (d.published, d.source, d.url) for d in engine.documents()}


def test_rss_feed_items_are_fetched_and_indexed(web_engine: Engine, site: Site) -> None:
    """Each item's page is extracted with its title, date (the page's, else the item's) and canonical URL."""
    report = web_engine.index_paths([], urls=[publish(site)])
    assert len(report.added) == 2 and report.skipped == []
    found = articles_by_title(web_engine)
    assert found["Harbour bridge reopens"] == (
        "2024-03-05T09:30:00",
        site.url("/news/bridge.html"),
        "https://gazette.example/bridge",
    )
    ferry = site.url("/news/ferry.html")
    assert found["Ferry strike ends"] == ("2024-03-06T08:00:00", ferry, ferry)  # the item's date
    assert any("forty steel cables" in web_engine.document(i)[1] for i in report.added)
    assert all("Home | World" not in web_engine.document(i)[1] for i in report.added)
    assert web_engine.search("steel cables bridge", k=1)[0].article.title == "Harbour bridge reopens"


ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Gazette (Atom)</title><entry><title>Ferry strike ends</title>
<link rel="alternate" href="/news/ferry.html"/><updated>2024-03-06T08:00:00Z</updated></entry>
<entry><title>Glass museum opens</title><link href="{base}/news/museum.html"/>
<published>2024-03-07T12:00:00Z</published></entry></feed>"""
SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/ferry.html</loc><lastmod>2024-03-06</lastmod></url>
<url><loc>{base}/news/museum.html</loc></url></urlset>"""
NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>{base}/news/ferry.html</loc><news:news><news:publication><news:name>Gazette</news:name>
<news:language>en</news:language></news:publication><news:publication_date>2024-03-06T08:00:00+01:00</news:publication_date>
<news:title>Ferry strike ends</news:title></news:news></url>
<url><loc>{base}/news/museum.html</loc></url></urlset>"""
SITEMAP_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-1.xml</loc></sitemap><sitemap><loc>{base}/sitemap-2.xml.gz</loc></sitemap>
</sitemapindex>"""


@pytest.mark.parametrize("kind", ["atom", "sitemap", "news-sitemap", "sitemap-index"])
def test_atom_feeds_and_sitemaps_are_read(web_engine: Engine, site: Site, kind: str) -> None:
    """Atom, XML sitemaps, news sitemaps and sitemap indexes (with a gzipped sitemap) list the pages read."""
    publish(site)
    xml = {"atom": ATOM, "sitemap": SITEMAP, "news-sitemap": NEWS_SITEMAP, "sitemap-index": SITEMAP_INDEX}
    url = site.put(f"/{kind}.xml", xml[kind].format(base=site.base), content_type="application/xml")
    one = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{site.base}/news/ferry.html</loc></url></urlset>'
    site.put("/sitemap-1.xml", one, content_type="text/xml")
    two = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{site.base}/news/museum.html</loc></url></urlset>'
    site.put("/sitemap-2.xml.gz", gzip.compress(two.encode()), content_type="application/gzip")
    report = web_engine.index_paths([], urls=[url])
    assert report.skipped == [] and len(report.added) == 2
    found = articles_by_title(web_engine)
    assert set(found) == {"Ferry strike ends", "Glass museum opens"}
    assert found["Glass museum opens"][0] == "2024-03-07T12:00:00"  # the page's own date
    if kind in ("atom", "news-sitemap"):
        assert found["Ferry strike ends"][0] == "2024-03-06T08:00:00"  # the listing's date


def test_single_page_mixed_with_files(web_engine: Engine, site: Site, tmp_path: Path) -> None:
    """An article URL and a local file are indexed in one run."""
    publish(site)
    note = tmp_path / "note.txt"
    note.write_text("Tram line\n\nThe new tram line to the airport opens in June.\n", encoding="utf-8")
    report = web_engine.index_paths([note], urls=[site.url("/news/museum.html")])
    assert len(report.added) == 2 and report.skipped == []
    assert set(articles_by_title(web_engine)) == {"Tram line", "Glass museum opens"}


def test_refresh_embeds_exactly_the_new_item(web_engine: Engine, site: Site) -> None:
    """After a new item appears in a feed, a refresh fetches and embeds that one article only."""
    feed = web_engine.add_feed(publish(site))
    assert (feed.kind, feed.title) == ("rss", "The Gazette")
    first = web_engine.refresh()
    assert len(first.added) == 2
    embedder = web_engine.embedder
    assert isinstance(embedder, HashEmbedder)
    before, pages_before = embedder.encoded, len(site.hits("/news/bridge.html"))

    items = [
        ("Glass museum opens", "/news/museum.html", "Thu, 07 Mar 2024 12:00:00 GMT"),
        ("Harbour bridge reopens", "/news/bridge.html", "Tue, 05 Mar 2024 09:30:00 GMT"),
        ("Ferry strike ends", "/news/ferry.html", "Wed, 06 Mar 2024 08:00:00 GMT"),
    ]
    site.put("/rss.xml", rss("The Gazette", items), content_type="application/rss+xml")
    second = web_engine.refresh()
    (added,) = second.added
    info, _ = web_engine.document(added)
    assert info.title == "Glass museum opens"
    assert second.chunks_embedded == info.chunks and embedder.encoded - before == info.chunks
    assert len(site.hits("/news/bridge.html")) == pages_before  # listed unchanged: not fetched again
    assert web_engine.stats()["articles"] == 3
    assert web_engine.refresh().added == []


def test_changed_item_replaces_its_article(web_engine: Engine, site: Site) -> None:
    """An item whose date changes is fetched again; a changed page replaces its article's passages."""
    url = publish(site)
    web_engine.index_paths([], urls=[url])
    site.put("/news/ferry.html", FERRY.replace("pay rise", "pay rise of six percent"))
    items = [("Ferry strike ends", "/news/ferry.html", "Thu, 07 Mar 2024 10:00:00 GMT")]
    site.put("/rss.xml", rss("The Gazette", items), content_type="application/rss+xml")
    report = web_engine.index_paths([], urls=[url])
    assert len(report.added) == 1
    assert "six percent" in web_engine.document(report.added[0])[1]
    assert web_engine.stats()["articles"] == 2


def test_conditional_get_skips_unchanged_pages(web_engine: Engine, site: Site) -> None:
    """A page fetched before is asked for with If-None-Match / If-Modified-Since; a 304 embeds nothing."""
    publish(site)
    stamp = "Wed, 06 Mar 2024 08:00:00 GMT"
    url = site.put("/news/tagged.html", BRIDGE, etag='"v1"', last_modified=stamp)
    assert len(web_engine.index_paths([], urls=[url]).added) == 1
    again = web_engine.index_paths([], urls=[url])
    assert again.added == [] and again.unchanged == 1 and again.chunks_embedded == 0
    second = site.hits("/news/tagged.html")[-1].headers
    assert second["If-None-Match"] == '"v1"' and second["If-Modified-Since"] == stamp


def test_robots_txt_is_honoured(web_engine: Engine, site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A page robots.txt disallows is skipped with a warning naming it; nothing is requested from it."""
    publish(site)
    private = site.put("/private/leak.html", MUSEUM)
    with caplog.at_level(logging.WARNING):
        report = web_engine.index_paths([], urls=[private, site.url("/news/ferry.html")])
    assert len(report.added) == 1
    assert report.skipped == [(private, "disallowed by the site's robots.txt")]
    assert private in caplog.text and site.hits("/private/leak.html") == []


def test_failing_robots_txt_stops_that_host(web_engine: Engine, site: Site) -> None:
    """A robots.txt answering 5xx forbids the whole host (RFC 9309); the pages are not requested."""
    publish(site)
    site.put("/robots.txt", "down", status=503)
    report = web_engine.index_paths([], urls=[site.url("/news/ferry.html")])
    assert report.added == [] and "robots.txt: HTTP 503" in report.skipped[0][1]
    assert site.hits("/news/ferry.html") == []


@pytest.mark.parametrize(
    ("path", "route", "reason"),
    [
        ("/broken.html", {"body": "oops", "status": 500}, "HTTP 500"),
        ("/gone.html", None, "HTTP 404"),
        ("/slow.html", {"body": MUSEUM, "delay": 3.0}, "timed out"),
        ("/drip.html", {"body": MUSEUM, "drip": 0.05}, "timed out"),
        ("/huge.html", {"body": "x" * 300_000}, "too large"),
        ("/huge-chunked.html", {"body": "x" * 300_000, "declare_length": False}, "too large"),
        ("/photo.png", {"body": b"\x89PNG\r\n\x1a\n" + bytes(64), "content_type": "image/png"}, "image/png"),
        ("/bad.xml", {"body": "<rss><channel><item>", "content_type": "application/rss+xml"}, "invalid XML"),
        ("/empty.html", {"body": "<html><body></body></html>"}, "no article text"),
    ],
)
def test_a_failed_url_is_a_warning_and_the_rest_goes_on(
    web_engine: Engine, site: Site, path: str, route: dict[str, object] | None, reason: str
) -> None:
    """Broken, missing, slow, huge, non-HTML and malformed answers skip that URL only; the index keeps
    what it held."""
    publish(site)
    web_engine.index_paths([], urls=[site.url("/news/bridge.html")])
    if route is not None:
        site.put(path, **route)  # type: ignore[arg-type]
    report = web_engine.index_paths([], urls=[site.url(path), site.url("/news/ferry.html")])
    assert len(report.added) == 1
    ((where, why),) = report.skipped
    assert where == site.url(path) and reason in why
    assert set(articles_by_title(web_engine)) == {"Harbour bridge reopens", "Ferry strike ends"}


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "http://"])
def test_only_http_urls_are_fetched(web_engine: Engine, url: str) -> None:
    """Other schemes and URLs without a host are refused before any request."""
    report = web_engine.index_paths([], urls=[url])
    assert report.added == [] and [w for w, _ in report.skipped] == [url]


def test_entity_expansion_is_refused(web_engine: Engine, site: Site) -> None:
    """A feed declaring entities ("billion laughs") is refused, not expanded."""
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
        "<rss><channel><title>&b;</title></channel></rss>"
    )
    report = web_engine.index_paths([], urls=[site.put("/bomb.xml", bomb, content_type="text/xml")])
    assert report.added == [] and "invalid XML" in report.skipped[0][1]


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">',
        '<!ENTITY b SYSTEM "file:///etc/passwd">',
    ],
)
def test_entity_refusal_is_a_plain_sentence(web_engine: Engine, site: Site, declaration: str) -> None:
    """A feed declaring entities is refused with a sentence saying why, not the parser's exception."""
    bomb = f'<?xml version="1.0"?><!DOCTYPE rss [{declaration}]><rss><channel>&b;</channel></rss>'
    url = site.put("/bomb.xml", bomb, content_type="text/xml")
    with pytest.raises(DocumentError) as refused:
        web_engine.add_feed(url)
    assert refused.value.reason == (
        "invalid XML: entity declarations are refused (they can expand without bound or read other files)"
    )
    assert web_engine.feeds() == []


def test_requests_to_one_host_wait_for_the_delay(tmp_path: Path, site: Site) -> None:
    """Requests to a host are spaced by QA_FETCH_DELAY, and name qa-bot in their User-Agent."""
    engine = Engine(
        Settings(index_dir=tmp_path / "i", fetch_delay=0.3, fetch_allow_private=True), embedder=HashEmbedder()
    )
    try:
        engine.index_paths([], urls=[publish(site)])
    finally:
        engine.close()
    times = [r.at for r in site.requests]
    assert len(times) == 4  # robots.txt, the feed, two pages
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))
    assert {r.headers["User-Agent"] for r in site.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("qa-bot/")


def test_crawl_delay_and_redirects(tmp_path: Path, site: Site) -> None:
    """A Crawl-delay above QA_FETCH_DELAY is honoured; redirects are followed to the final page."""
    site.put("/robots.txt", "User-agent: qa-bot\nCrawl-delay: 1\n", content_type="text/plain")
    site.put("/news/ferry.html", FERRY)
    site.put("/old-ferry", "", status=301, headers={"Location": "/news/ferry.html"})
    fetcher = Fetcher(Settings(index_dir=tmp_path, fetch_delay=0, fetch_allow_private=True))
    try:
        fetched = fetcher.fetch(site.url("/old-ferry"))
    finally:
        fetcher.close()
    assert fetched.url == site.url("/news/ferry.html") and b"Ferry crews" in fetched.body
    robots, redirect, page = (r.at for r in site.requests)
    assert redirect - robots >= 0.98 and page - redirect >= 0.98


def test_feed_registry(web_engine: Engine, site: Site) -> None:
    """Feeds are added after a check that they are feeds, listed, and removed; their articles stay."""
    url = publish(site)
    with pytest.raises(DocumentError, match="not an RSS or Atom feed"):
        web_engine.add_feed(site.url("/news/bridge.html"))
    web_engine.add_feed(url)
    web_engine.add_feed(url)  # twice is once
    assert [f.url for f in web_engine.feeds()] == [url]
    web_engine.refresh()
    (feed,) = web_engine.feeds()
    assert feed.polled is not None and feed.error is None
    web_engine.remove_feed(url)
    assert web_engine.feeds() == [] and web_engine.stats()["articles"] == 2
    with pytest.raises(FeedNotFoundError):
        web_engine.remove_feed(url)
    with pytest.raises(FeedNotFoundError):
        web_engine.refresh([url])


def test_failed_page_is_retried_at_the_next_refresh(web_engine: Engine, site: Site) -> None:
    """A page that failed is fetched again next time even though its feed did not change (304)."""
    url = publish(site)
    site.routes["/rss.xml"].etag = '"feed-1"'
    site.put("/news/ferry.html", "busy", status=503)
    web_engine.add_feed(url)
    first = web_engine.refresh()
    assert len(first.added) == 1 and web_engine.feeds()[0].error == "1 of its pages failed"
    site.put("/news/ferry.html", FERRY)
    second = web_engine.refresh()
    assert len(second.added) == 1 and web_engine.feeds()[0].error is None
    third = web_engine.refresh()
    assert third.added == [] and site.hits("/rss.xml")[-1].headers.get("If-None-Match") == '"feed-1"'


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1.5h", 5400), ("45", 45), ("0", 0)]
)
def test_durations(text: str, seconds: float) -> None:
    """`--refresh` and QA_REFRESH take 30s, 15m, 1h or seconds."""
    assert parse_duration(text) == seconds
    assert Settings(refresh=text).refresh == seconds


@pytest.mark.parametrize("text", ["soon", "15 minutes", "-5m", ""])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything else is an invalid setting."""
    with pytest.raises(ValueError):
        Settings(refresh=text)
