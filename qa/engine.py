"""The facade every front end calls: one archive's operations, each handed to the part that does it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answering.answerer import Answerer, Day
from qa.answering.conversation import Conversation
from qa.answering.reader import Reader
from qa.archive import Archive
from qa.config import Settings
from qa.ingest.selection import ALL_ARTICLES, FileSelection
from qa.models import AnswerSet, Article, DocumentInfo, Feed, IndexReport, Mode, Passage, Skipped, TimeWindow
from qa.runtime.embedding import Embedder, Progress
from qa.store import DocumentOrder, Store

if TYPE_CHECKING:  # watches are imported when first used: `qa ask` needs none
    from qa.watching import Feedback, Watching


class Engine:
    """One archive's questions, articles, feeds and documents, over its ``archive`` (model, reader, index,
    web: opened on first use; the index's life), ``answerer`` (the recipe) and ``watching`` (watches)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.archive = Archive(settings, embedder)
        self.answerer = Answerer(self.archive)
        self._watching: Watching | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first use)."""
        return self.archive.embedder

    @property
    def reader(self) -> Reader | None:
        """The trained answer reader (loaded on first use); None when ``QA_READER=off``."""
        return self.archive.reader

    @property
    def store(self) -> Store:
        """The index (opened on first use)."""
        return self.archive.store

    @property
    def feedback(self) -> Feedback:
        """The votes cast on answers."""
        return self.archive.feedback

    @property
    def watching(self) -> Watching:
        """The archive's watches: questions asked again against each new or changed article."""
        with self._lock:
            if self._watching is None:
                from qa.watching import Watching

                self.archive.require_index()
                self._watching = Watching(self, self.store)
            return self._watching

    def search(
        self, query: str, k: int = 10, mode: Mode | None = None, since: Day = None, until: Day = None
    ) -> list[Passage]:
        """The ``k`` best passages for a query (``Answerer.search``)."""
        return self.answerer.search(query, k, mode, since, until)

    def searched_days(self, query: str, since: Day = None, until: Day = None) -> TimeWindow | None:
        """The publication days a search keeps to (``Answerer.searched_days``)."""
        return self.answerer.searched_days(query, since, until)

    def ask(
        self,
        question: str,
        conversation: Conversation | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
        since: Day = None,
        until: Day = None,
        as_of: Day = None,
    ) -> AnswerSet:
        """Answers quoted from the archive, best first; empty when it holds none (``Answerer.ask``)."""
        return self.answerer.ask(question, conversation, top_k, mode, since, until, as_of)

    def index_paths(
        self,
        paths: Sequence[Path],
        progress: Progress | None = None,
        selection: FileSelection = ALL_ARTICLES,
        urls: Sequence[str] = (),
    ) -> IndexReport:
        """Index files, folders and URLs incrementally; the watches are checked against what was added."""
        with self.archive.web_lock(urls):
            report = self.archive.indexer().index(paths, progress, selection, urls)
        if not self.archive.nothing_stored():  # a failed first run made none
            self.watching.check(report.added)
        return report

    def add_articles(self, articles: list[Article]) -> IndexReport:
        """Add articles directly (replacing any with the same id); the watches are checked."""
        report = self.archive.indexer().add_articles(articles)
        self.watching.check(report.added)
        return report

    def load_upload(self, filename: str, data: bytes) -> tuple[list[Article], list[Skipped]]:
        """Parse an uploaded file's bytes: its articles and the parts skipped (a .jsonl file's bad
        lines), each named as the sender knows it; its name only picks the format and labels the source."""
        from qa.ingest.indexer import load_upload

        return load_upload(filename, data)

    def load_posted(self, record: dict[str, Any]) -> tuple[list[Article], list[Skipped]]:
        """Parse an article posted as one JSON object (``qa.ingest.indexer.load_posted``)."""
        from qa.ingest.indexer import load_posted

        return load_posted(record)

    def refresh(self, urls: Sequence[str] | None = None, progress: Progress | None = None) -> IndexReport:
        """Poll every registered feed (or those of ``urls``) once: new or changed articles are embedded."""
        return self.index_paths([], progress, urls=self.archive.web.feed_urls(urls))

    def feeds(self) -> list[Feed]:
        """The feeds and sitemaps ``refresh`` polls."""
        return self.archive.feeds()

    def add_feed(self, url: str) -> Feed:
        """Register a feed or sitemap (fetched once to check it is one); ``refresh`` reads it."""
        return self.archive.web.add_feed(url)

    def remove_feed(self, url: str) -> None:
        """Stop polling a feed; its articles stay."""
        self.archive.web.remove_feed(url)

    def stats(self) -> dict[str, int]:
        """``{"articles": n, "chunks": m}``."""
        return self.archive.stats()

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Indexed articles, in the order they were added."""
        return self.archive.document_page(offset, limit)[0]

    def document_page(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles, those whose title or source holds ``search``, and their total."""
        return self.archive.document_page(offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str]:
        """One article's info and its full text."""
        return self.archive.document(doc_id)

    def find_document(self, ref: str) -> tuple[DocumentInfo, str]:
        """One article by its id, its source as listed, or the path of the file it was read from."""
        return self.archive.find_document(ref)

    def remove_document(self, doc_id: str) -> None:
        """Remove one article from the index."""
        self.archive.remove_document(doc_id)

    def close(self) -> None:
        """Release the index and the web connections (the model stays loaded)."""
        self.archive.close()
