"""The facade every front end calls: index articles, ask questions, list and remove documents."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from qa.answering import timefilter
from qa.answering.answers import (
    DEFAULT_PICKER,
    Evidence,
    PickerWeights,
    QuestionTerms,
    pick_answers,
    read_answers,
    unstored_sentences,
)
from qa.answering.conversation import Conversation, rewrite_question
from qa.answering.reader import Reading
from qa.answering.retrieval import DEFAULT_WEIGHTS, FusionWeights, Retrieved, Retriever
from qa.answering.timephrases import TimeQuery
from qa.archive import Archive
from qa.config import READ_PASSAGES, Settings
from qa.errors import ConfigError, DocumentNotFoundError
from qa.ingest import copies
from qa.ingest.indexer import ALL_ARTICLES, load_upload
from qa.ingest.selection import FileSelection
from qa.models import Answer, AnswerSet, Article, DocumentInfo, Feed, IndexReport, Mode, Passage, TimeWindow
from qa.runtime.embedding import Embedder, Progress
from qa.runtime.embedding_cache import CachingEmbedder
from qa.store import DocumentOrder, LocalStore
from qa.text import clean_question
from qa.watching import Watching

logger = logging.getLogger(__name__)

MAX_ANSWERS = 10  # answers kept per question: the first top_k are shown, the rest serve "more"
PICKER_THRESHOLD = 0.015  # the sentence picker's default abstention threshold (bench/fit_picker.py)


class Engine(Archive):
    """One archive and every operation front ends offer: questions, articles, feeds, documents."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        fusion: FusionWeights = DEFAULT_WEIGHTS,
        picker: PickerWeights = DEFAULT_PICKER,
    ) -> None:
        super().__init__(settings, embedder)
        self.fusion = fusion
        self.picker = picker
        self._retriever: Retriever | None = None
        self._web_lock = threading.Lock()  # one run over URLs at a time (a refresh, an index)
        self._watching: Watching | None = None

    @property
    def watching(self) -> Watching:
        """The archive's watches: questions asked again against each new or changed article."""
        with self._lock:
            if self._watching is None:
                self.require_index()
                self._watching = Watching(self, self.store)
            return self._watching

    @property
    def retriever(self) -> Retriever:
        """Question → passages, with a cache of question and sentence vectors, made once per engine."""
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(CachingEmbedder(self.embedder), self.fusion, self.settings.mode)
            return self._retriever

    @property
    def abstain_threshold(self) -> float:
        """Answers scoring below this are withheld: the setting, else the answerer's calibrated default."""
        if self.settings.abstain_threshold is not None:
            return self.settings.abstain_threshold
        reader = self.reader
        return reader.config.threshold if reader is not None else PICKER_THRESHOLD

    def warm_up(self, progress: Progress | None = None) -> None:
        """Open the index (at the default location, built from the seeds when empty) and load all that a
        question needs, the reader and the vectors included, by asking one: the next pays for none of it."""
        self.ensure_index(progress)
        self.ask("When did it start?")

    # -- questions -------------------------------------------------------------------------------
    def validate_question(self, question: str) -> str:
        """The question cleaned of escape sequences and control characters; ``QuestionError`` when empty
        or too long."""
        return clean_question(question, self.settings.max_question_chars)

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for a query, only from articles published inside its relative time
        words and the ``since``/``until`` days (inclusive) when there are any; those published in or
        just after a date it names come first."""
        query = self.validate_question(query)
        self.ensure_index()
        timed = self._time(query, since, until, None)
        windows = timefilter.windows(timed)
        return self.retriever.retrieve_in_turn(self.store, timed.plain, k, mode, windows, timed.text)

    def ask(
        self,
        question: str,
        conversation: Conversation | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
        since: date | None = None,
        until: date | None = None,
        as_of: date | None = None,
    ) -> AnswerSet:
        """Answers quoted from the archive, best first; empty when the archive does not hold one.

        Relative time words ("last week", "yesterday", counted from ``as_of``, today by default) and
        ``since``/``until`` (inclusive days) limit the articles searched; a date the question names
        ("in March 2005") favours them: articles published in it or in the weeks after it are read
        first, the others when none of those answers. "Latest" puts the newest good answer first.
        One sentence is never answered twice, and an answer from a story indexed several times lists
        the other copies (``also_in``)."""
        question = self.validate_question(question)
        self.ensure_index()
        timed = self._time(question, since, until, as_of)
        context = conversation.context() if conversation else []
        searched, plain = (rewrite_question(text, context) for text in (timed.text, timed.plain))
        top_k = top_k or self.settings.top_k
        k = max(10, top_k, self.settings.read_passages)
        limit = max(MAX_ANSWERS, top_k)
        for window in timefilter.windows(timed):
            passages, answers = self._answers((plain, searched), k, mode, window, timed.newest_first, limit)
            if answers:
                break
        answers = copies.one_per_story(self.store, answers)
        if timed.newest_first:
            answers = timefilter.newest_first(answers, passages)
        repeats: list[Answer] = []
        if conversation is not None and searched != question:  # a follow-up: say only what is new
            said = conversation.said()
            repeats = [a for a in answers if (a.article.id, a.text) in said]
            answers = [a for a in answers if (a.article.id, a.text) not in said]
        result = AnswerSet(
            question=question,
            answers=tuple(answers[:top_k]),
            passages=tuple(passages),
            more_answers=tuple(answers[top_k:]),
            rewritten_question=searched if searched != question else None,
            window=window,
            repeats=tuple(repeats),
        )
        if conversation is not None:
            conversation.record(question, searched, result)
        return result

    def _answers(
        self,
        question: tuple[str, str],
        k: int,
        mode: Mode | None,
        window: TimeWindow | None,
        newest: bool,
        limit: int,
    ) -> tuple[list[Passage], list[Answer]]:
        """Passages inside ``window`` and up to ``limit`` answers (``question``: plain, with keywords)."""
        # "Latest": every retrieved article may hold the newest answer, not only the top few.
        if self.reader is not None:
            depth = k if newest else self.settings.read_passages
            passages, readings, terms = self.read(question[0], k, mode, window, depth, question[1])
            calibration, threshold = self.reader.config.calibration, self.abstain_threshold
            return passages, read_answers(passages, readings, calibration, threshold, limit, terms)
        picker = dataclasses.replace(self.picker, passages=k) if newest else self.picker
        found = self.retriever.retrieve(self.store, question[0], k, mode, window, question[1])
        evidence = self.evidence(question[0], found, picker)
        return list(evidence.passages), pick_answers(evidence, self.abstain_threshold, limit, picker)

    def read(
        self,
        question: str,
        k: int = 10,
        mode: Mode | None = None,
        window: TimeWindow | None = None,
        depth: int = READ_PASSAGES,
        keywords: str | None = None,
    ) -> tuple[list[Passage], list[Reading], QuestionTerms]:
        """The ``k`` best passages, the reader's verdict on the first ``depth`` and the question's terms
        and vector as retrieval saw them (``ask``, calibration); BM25 reads ``keywords`` when given."""
        reader = self.reader
        if reader is None:
            raise ConfigError("the reader is off (QA_READER=off)")
        found = self.retriever.retrieve(self.store, question, k, mode, window, keywords)
        readings = reader.read(question, [p.text for p in found.passages[:depth]])
        return found.passages, readings, QuestionTerms(found.stems, found.idf, found.vector)

    def evidence(self, question: str, found: Retrieved, picker: PickerWeights) -> Evidence:
        """What the sentence picker weighs for a question's passages, every vector it needs included."""
        # An index without stored sentence vectors: the sentences the picker weighs are encoded
        # (and cached) here, so that answering is a function of plain data.
        unstored = unstored_sentences(found.passages, picker)
        vectors = self.retriever.embedder.encode(unstored) if unstored else None
        return Evidence(question, found.passages, found.stems, found.idf, found.vector, vectors)

    def _time(self, question: str, since: date | None, until: date | None, as_of: date | None) -> TimeQuery:
        """The windows and order asked for, and the question without its relative time words."""
        with self.store.snapshot() as snap:
            return timefilter.plan(snap, question, since, until, as_of)

    # -- documents -------------------------------------------------------------------------------
    def index_paths(
        self,
        paths: Sequence[Path],
        progress: Progress | None = None,
        selection: FileSelection = ALL_ARTICLES,
        urls: Sequence[str] = (),
    ) -> IndexReport:
        """Index files, folders and URLs (feeds, sitemaps, pages) incrementally; a folder's vanished
        (or now left out) files are removed, and a URL's article is embedded again only when its text
        changed."""
        with self._web_lock if urls else contextlib.nullcontext():
            indexer = self.indexer()
            report = indexer.index(paths, progress, selection, urls)
        if indexer.index_exists():  # a failed first run made none
            self.watching.check(report.added)
        return report

    def add_articles(self, articles: list[Article]) -> IndexReport:
        """Add articles directly (replacing any with the same id); the watches are checked."""
        report = self.indexer().add_articles(articles)
        self.watching.check(report.added)
        return report

    def load_upload(self, filename: str, data: bytes) -> list[Article]:
        """Parse an uploaded file's bytes; its name only picks the format and labels the source."""
        return load_upload(filename, data)

    def feeds(self) -> list[Feed]:
        """The feeds and sitemaps ``refresh`` polls."""
        return [] if self._nothing_stored() else self.web.state.feeds()

    def add_feed(self, url: str) -> Feed:
        """Register a feed or sitemap (fetched once to check it is one); ``refresh`` reads it."""
        return self.web.add_feed(url)

    def remove_feed(self, url: str) -> None:
        """Stop polling a feed; its articles stay."""
        self.web.remove_feed(url)

    def refresh(self, urls: Sequence[str] | None = None, progress: Progress | None = None) -> IndexReport:
        """Poll every registered feed (or those of ``urls``) once: new or changed articles are embedded."""
        return self.index_paths([], progress, urls=self.web.feed_urls(urls))

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Indexed articles, in the order they were added."""
        return self.document_page(offset, limit)[0]

    def document_page(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles, those whose title or source holds ``search``, and their total."""
        self.require_index()
        if self._nothing_stored():
            return [], 0
        return self.store.documents(offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str]:
        """One article's info and its full text."""
        self.require_index()
        found = None if self._nothing_stored() else self.store.document(doc_id)
        if found is None:
            raise DocumentNotFoundError(doc_id)
        return found

    def find_document(self, ref: str) -> tuple[DocumentInfo, str]:
        """One article by its id, its source as listed, or the path of the file it was read from."""
        self.require_index()
        if self._nothing_stored():
            raise DocumentNotFoundError(ref)
        found = self.store.document(ref)
        if found is not None:
            return found
        ids = self.store.article_ids_from(ref) or self.store.article_ids_from(str(Path(ref).resolve()))
        if len(ids) > 1:
            listed = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise DocumentNotFoundError(
                ref, f"{ref} holds {len(ids)} articles ({listed}): name one by its id"
            )
        return self.document(ids[0]) if ids else self.document(ref)

    def remove_document(self, doc_id: str) -> None:
        """Remove one article from the index."""
        self.require_index()
        with self.store.writer() as writer:
            if not writer.remove_article(doc_id):
                raise DocumentNotFoundError(doc_id)

    def _nothing_stored(self) -> bool:
        """True while no local index exists on disk: listing it then needs no model and creates nothing."""
        return self.settings.store == "local" and not LocalStore.exists(self.settings.index_dir)
