"""What the index remembers of the web: the registered feeds and what each fetched URL last said.

Both live in the index's SQLite database (``meta.sqlite``), beside the articles, in tables of their
own.  Each change is one statement, so it is atomic; a URL's validators are recorded only after
the articles fetched with them are committed, so an interrupted run at worst fetches a page again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qa.models import Feed
from qa.store.schema import DATABASE, FEEDS_SCHEMA


@dataclass(frozen=True, slots=True)
class PageState:
    """What a URL said when it was last fetched: its HTTP validators and its listing's date."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    stamp: str | None = None  # the feed's or sitemap's date for the page when it was fetched


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class WebState:
    """The feed registry and the per-URL fetch state of one index directory."""

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / DATABASE
        with self._connect() as conn:
            conn.executescript(FEEDS_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A short-lived connection per call: safe from any thread, never holds a lock for long.
        with closing(sqlite3.connect(self.path, timeout=60.0, isolation_level=None)) as conn:
            yield conn

    def feeds(self) -> list[Feed]:
        """The registered feeds, in the order they were added."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT url, kind, title, added, polled, error FROM feeds ORDER BY added, url"
            )
            return [Feed(r[0], r[1], r[2], _iso(r[3]) or "", _iso(r[4]), r[5]) for r in rows]

    def has_feed(self, url: str) -> bool:
        """True when ``url`` is a registered feed."""
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is not None

    def add_feed(self, url: str, kind: str, title: str | None) -> None:
        """Register a feed (its kind and title are updated when it already is)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO feeds(url, kind, title, added) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, title = excluded.title",
                (url, kind, title, time.time()),
            )

    def remove_feed(self, url: str) -> bool:
        """Forget a feed; False when it was not registered."""
        with self._connect() as conn:
            return conn.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0

    def feed_polled(self, url: str, error: str | None, title: str | None = None) -> None:
        """Record a poll of a registered feed and its outcome (nothing when ``url`` is no feed)."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE feeds SET polled = ?, error = ?, title = coalesce(?, title) WHERE url = ?",
                (time.time(), error, title, url),
            )

    def page(self, url: str) -> PageState | None:
        """What ``url`` said when last fetched, or None if it never was."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT url, etag, last_modified, stamp FROM web_pages WHERE url = ?", (url,)
            ).fetchone()
        return None if row is None else PageState(*row)

    def save_pages(self, pages: Iterable[PageState]) -> None:
        """Record what these URLs said (after the articles fetched from them were committed)."""
        now = time.time()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR REPLACE INTO web_pages(url, etag, last_modified, stamp, fetched) "
                "VALUES (?, ?, ?, ?, ?)",
                [(p.url, p.etag, p.last_modified, p.stamp, now) for p in pages],
            )
            conn.execute("COMMIT")
