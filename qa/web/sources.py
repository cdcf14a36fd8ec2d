"""Articles from the web: feeds, sitemaps and pages fetched politely, read like local files."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin

from qa.errors import DocumentError, FeedNotFoundError, FetchError
from qa.ingest.articles import article_id_for, content_hash, parse_document
from qa.models import Article, Feed, IndexReport
from qa.progress import progress_log
from qa.runtime.embedding import Progress
from qa.store.feed_registry import PageState, WebState
from qa.web.feeds import Link, Listing, gunzip, is_listing, parse_listing, root_name
from qa.web.fetching import Fetched, Fetcher, normalize_url

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PageOutcome = Literal["fetched", "unchanged", "failed", "repeated"]  # repeated: listed twice in a run


@dataclass(slots=True)
class WebBatch:
    """What reading some URLs found: articles to store, then what to remember once they are stored."""

    changed: list[tuple[str, str, list[Article]]] = field(default_factory=list)  # (URL, hash, articles)
    pages: list[PageState] = field(default_factory=list)
    polled: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (feed, error, title)
    seen: set[str] = field(default_factory=set)  # URLs handled in this run


def skip(report: IndexReport, where: str, reason: str) -> None:
    """Record a skipped input and warn, naming it."""
    logger.warning("%s: skipped, %s", where, reason)
    report.skipped.append((where, reason))


class WebSources:
    """Reads URLs into articles; ``known`` gives the content hash an indexed URL was stored with."""

    def __init__(self, fetcher: Fetcher, state: WebState, known: Callable[[str], str | None]) -> None:
        self.fetcher = fetcher
        self.state = state
        self._known = known

    # -- the feed registry -----------------------------------------------------------------------
    def add_feed(self, url: str) -> Feed:
        """Register a feed or sitemap after fetching it once to check that it is one."""
        key = normalize_url(url)
        listing = self._listing(self.fetcher.fetch(key), key)
        self.state.add_feed(key, listing.kind, listing.title)
        return next(f for f in self.state.feeds() if f.url == key)

    def remove_feed(self, url: str) -> None:
        """Stop polling a feed (its articles stay in the index)."""
        try:
            key = normalize_url(url)
        except FetchError:
            raise FeedNotFoundError(url) from None
        if not self.state.remove_feed(key):
            raise FeedNotFoundError(url)

    def feed_urls(self, only: Sequence[str] | None = None) -> list[str]:
        """Every registered feed, or those of ``only`` (``FeedNotFoundError`` for one that is not)."""
        registered = [f.url for f in self.state.feeds()]
        if only is None:
            return registered
        wanted = []
        for url in only:
            try:
                key = normalize_url(url)
            except FetchError:
                key = url
            if key not in registered:
                raise FeedNotFoundError(url)
            wanted.append(key)
        return wanted

    # -- reading ---------------------------------------------------------------------------------
    def read(self, urls: Sequence[str], report: IndexReport, progress: Progress | None = None) -> WebBatch:
        """Fetch each URL (a feed, a sitemap or an article page) and the pages it lists."""
        batch = WebBatch()
        for url in urls:
            try:
                key = normalize_url(url)
            except FetchError as exc:
                skip(report, url, exc.reason)
                continue
            error = self._read_url(key, batch, report, progress)
            if self.state.has_feed(key):
                batch.polled.append((key, error, None))
        return batch

    def remember(self, batch: WebBatch) -> None:
        """Record validators and feed polls; call once the batch's articles are committed."""
        self.state.save_pages(batch.pages)
        for url, error, title in batch.polled:
            self.state.feed_polled(url, error, title)

    def _read_url(
        self, url: str, batch: WebBatch, report: IndexReport, progress: Progress | None
    ) -> str | None:
        """Read one URL given by the user; the reason it failed, if it did."""
        previous = self.state.page(url) or PageState(url)
        try:
            fetched = self.fetcher.fetch(url, previous.etag, previous.last_modified)
            if fetched.not_modified:
                report.unchanged += 1
                return None
            body = gunzip(fetched.body, self.fetcher.max_bytes, url)
        except DocumentError as exc:
            skip(report, url, exc.reason)
            return exc.reason
        if not is_listing(body):
            self._read_page(Link(url), batch, report, fetched)
            return None
        try:
            listing = parse_listing(body, fetched.url)
        except DocumentError as exc:
            skip(report, url, exc.reason)
            return exc.reason
        failed = self._read_listing(url, listing, batch, report, progress)
        if failed == 0:  # else the next run fetches the listing in full and retries what failed
            batch.pages.append(PageState(url, fetched.etag, fetched.last_modified))
        return f"{failed} of its pages failed" if failed else None

    def _read_listing(
        self, url: str, listing: Listing, batch: WebBatch, report: IndexReport, progress: Progress | None
    ) -> int:
        """Read the pages a feed or sitemap lists (at most ``QA_FETCH_MAX_PAGES``), saying how many were
        fetched and how many were unchanged (not fetched again, or answered 304); the number that failed."""
        links = list(listing.links)
        if listing.kind == "sitemap-index":
            links = self._expand_index(links, report)
        if len(links) > self.fetcher.max_pages:
            logger.warning(
                "%s lists %d pages: only the first %d are read (QA_FETCH_MAX_PAGES)",
                url,
                len(links),
                self.fetcher.max_pages,
            )
            links = links[: self.fetcher.max_pages]
        outcomes: Counter[PageOutcome] = Counter()
        for number, link in enumerate(links, start=1):
            outcomes[self._read_page(link, batch, report)] += 1
            if progress is not None:
                progress(number, len(links), "checking pages")
        progress_log.info(
            "%s: %d pages listed, %d fetched, %d unchanged, %d failed",
            url, len(links), outcomes["fetched"], outcomes["unchanged"], outcomes["failed"],
        )  # fmt: skip
        return outcomes["failed"]

    def _expand_index(self, sitemaps: list[Link], report: IndexReport) -> list[Link]:
        """The pages listed by the sitemaps of a sitemap index (one level: indexes do not nest)."""
        pages: list[Link] = []
        for sitemap in sitemaps:
            if len(pages) > self.fetcher.max_pages:
                break  # enough to fill the cap: the other sitemaps are not fetched
            try:
                key = normalize_url(sitemap.url)
                listing = self._listing(self.fetcher.fetch(key), key)
            except DocumentError as exc:
                skip(report, sitemap.url, exc.reason)
                continue
            if listing.kind != "sitemap":
                skip(report, sitemap.url, "a sitemap index may only list sitemaps")
                continue
            pages.extend(listing.links)
        return pages

    def _listing(self, fetched: Fetched, url: str) -> Listing:
        """The feed or sitemap fetched from ``url``; ``DocumentError`` when it is something else."""
        return parse_listing(gunzip(fetched.body, self.fetcher.max_bytes, url), fetched.url)

    def _read_page(
        self, link: Link, batch: WebBatch, report: IndexReport, fetched: Fetched | None = None
    ) -> PageOutcome:
        """Fetch one article page unless its listing says it is unchanged; what became of it."""
        try:
            key = normalize_url(link.url)
            if key in batch.seen:
                return "repeated"
            batch.seen.add(key)
            stored = self._known(key)
            previous = self.state.page(key) if stored is not None else None
            if fetched is None and previous is not None and previous.stamp == link.stamp:
                report.unchanged += 1  # listed with the same date as when it was fetched
                return "unchanged"
            if fetched is None:
                validators = (previous.etag, previous.last_modified) if previous else (None, None)
                fetched = self.fetcher.fetch(key, *validators)
            if fetched.not_modified and previous is not None:
                report.unchanged += 1
                batch.pages.append(dataclasses.replace(previous, stamp=link.stamp))
                return "unchanged"
            articles = self._articles(fetched, key, link)
        except DocumentError as exc:
            skip(report, link.url, exc.reason)
            return "failed"
        sha = content_hash(json.dumps([dataclasses.astuple(a) for a in articles]).encode("utf-8"))
        batch.pages.append(PageState(key, fetched.etag, fetched.last_modified, link.stamp))
        if sha == stored:
            report.unchanged += 1
        else:
            batch.changed.append((key, sha, articles))
        return "fetched"

    @staticmethod
    def _articles(fetched: Fetched, key: str, link: Link) -> list[Article]:
        """The article on a fetched page, named by its URL, dated by the page or else by its listing."""
        body = fetched.text_bytes()
        root = root_name(body)
        if is_listing(body):
            raise DocumentError(key, "a feed or sitemap where an article page was expected")
        if fetched.content_type in HTML_TYPES or root == "html":
            suffix = ".html"
        elif fetched.content_type == "text/plain":
            suffix = ".txt"
        else:
            kind = fetched.content_type or "no content type"
            raise DocumentError(key, f"not an article page, feed or sitemap ({kind})")
        articles, _ = parse_document(body, key, suffix)
        article = articles[0]
        canonical = urljoin(fetched.url, article.url) if article.url else fetched.url
        if not canonical.startswith(("http://", "https://")):
            canonical = fetched.url
        return [
            dataclasses.replace(
                article,
                id=article_id_for(key),
                title=article.title if article.title.strip() else (link.title or key),
                published=article.published or link.published,
                url=canonical,
            )
        ]
