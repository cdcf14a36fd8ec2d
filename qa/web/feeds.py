"""Feeds and sitemaps: RSS, Atom, XML sitemaps, sitemap indexes and news sitemaps, parsed safely."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException, EntitiesForbidden

from qa.errors import DocumentError
from qa.ingest.dates import iso_date

ListingKind = Literal["rss", "atom", "sitemap", "sitemap-index"]
LISTING_ROOTS: dict[str, ListingKind] = {
    "rss": "rss",
    "RDF": "rss",  # RSS 1.0
    "feed": "atom",
    "urlset": "sitemap",
    "sitemapindex": "sitemap-index",
}
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_FIRST_TAG = re.compile(rb"<([A-Za-z][\w.:-]*)")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Link:
    """One page a feed or sitemap lists."""

    url: str
    title: str | None = None
    published: str | None = None  # ISO 8601: the page's date when the page itself shows none
    stamp: str | None = None  # the listing's date for the page: when it changes, fetch the page again


@dataclass(frozen=True, slots=True)
class Listing:
    """A parsed feed or sitemap: what it is, its title, and the pages (or sitemaps) it lists."""

    kind: ListingKind
    title: str | None
    links: tuple[Link, ...]


def root_name(data: bytes) -> str | None:
    """Local name of a document's first element (``rss``, ``feed``, ``html``...), None if none is seen."""
    head = _COMMENT.sub(b"", data[:8192])
    match = _FIRST_TAG.search(head)
    return match.group(1).decode("ascii").rpartition(":")[2] if match else None


def is_listing(data: bytes) -> bool:
    """True when the document is a feed or a sitemap (by its root element)."""
    return root_name(data) in LISTING_ROOTS


def gunzip(data: bytes, limit: int, where: str) -> bytes:
    """A gzip-compressed body (``sitemap.xml.gz``) decompressed to at most ``limit`` bytes."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DocumentError(where, f"broken gzip data ({exc})") from None
    if len(out) > limit:
        raise DocumentError(where, f"too large once decompressed (more than {limit:,} bytes)")
    return out


def parse_listing(data: bytes, base_url: str) -> Listing:
    """The feed or sitemap in ``data``; relative links are resolved against ``base_url``.

    DTD entities are refused (no "billion laughs"), so a hostile feed cannot blow up memory."""
    kind = LISTING_ROOTS.get(root_name(data) or "")
    if kind is None:
        raise DocumentError(base_url, "not an RSS or Atom feed or an XML sitemap")
    try:
        root = SafeTree.fromstring(data)
    except ParseError as exc:
        raise DocumentError(base_url, f"invalid XML ({exc})") from None
    except EntitiesForbidden:
        reason = "entity declarations are refused (they can expand without bound or read other files)"
        raise DocumentError(base_url, f"invalid XML: {reason}") from None
    except DefusedXmlException:  # an external DTD or entity reference: never fetched
        raise DocumentError(base_url, "invalid XML: references to other documents are refused") from None
    if kind == "rss":
        title, links = _text(_first(root, "channel"), "title"), _rss_links(root, base_url)
    elif kind == "atom":
        title, links = _text(root, "title"), _atom_links(root, base_url)
    else:
        title, links = None, _sitemap_links(root, base_url)
    unique: dict[str, Link] = {}
    for link in links:
        unique.setdefault(link.url, link)  # the first mention of a page wins
    return Listing(kind, title, tuple(unique.values()))


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


def _first(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((child for child in element if _local(child) == name), None)


def _text(element: Element | None, name: str) -> str | None:
    found = _first(element, name)
    text = " ".join("".join(found.itertext()).split()) if found is not None else ""
    return text or None


def _absolute(base_url: str, link: str | None) -> str | None:
    if not link or not link.strip():
        return None
    return urljoin(base_url, link.strip())


def _rss_links(root: Element, base_url: str) -> list[Link]:
    links = []
    for item in (e for e in root.iter() if _local(e) == "item"):
        url = _absolute(base_url, _text(item, "link"))
        guid = _first(item, "guid")
        if url is None and guid is not None and guid.get("isPermaLink", "true") != "false":
            url = _absolute(base_url, guid.text)
        if url is None:
            continue
        date = _text(item, "pubDate") or _text(item, "date")  # dc:date in RSS 1.0
        links.append(Link(url, _text(item, "title"), iso_date(date), _text(item, "updated") or date))
    return links


def _atom_links(root: Element, base_url: str) -> list[Link]:
    links = []
    for entry in (e for e in root if _local(e) == "entry"):
        hrefs = [
            link.get("href")
            for link in entry
            if _local(link) == "link" and link.get("rel", "alternate") == "alternate"
        ]
        url = _absolute(base_url, next((h for h in hrefs if h), None))
        if url is None:
            continue
        published, updated = _text(entry, "published"), _text(entry, "updated")
        links.append(Link(url, _text(entry, "title"), iso_date(published or updated), updated or published))
    return links


def _sitemap_links(root: Element, base_url: str) -> list[Link]:
    links = []
    for entry in (e for e in root if _local(e) in ("url", "sitemap")):
        url = _absolute(base_url, _text(entry, "loc"))
        if url is None:
            continue
        news = _first(entry, "news")  # a news sitemap's <news:news>
        published = _text(news, "publication_date")
        lastmod = _text(entry, "lastmod")
        links.append(Link(url, _text(news, "title"), iso_date(published or lastmod), lastmod or published))
    return links
