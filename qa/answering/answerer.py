"""The answering recipe: a question, its time windows, retrieval, the reader (or the picker), answers."""

from __future__ import annotations

import copy
import dataclasses
import threading
from datetime import date
from typing import TYPE_CHECKING

from qa.answering import periods, timefilter
from qa.answering.answers import QuestionTerms, quoted_first, read_answers
from qa.answering.conversation import Conversation
from qa.answering.picker import DEFAULT_PICKER, Evidence, PickerWeights, pick_answers, unstored_sentences
from qa.answering.reader import Reading
from qa.answering.retrieval import DEFAULT_WEIGHTS, FusionWeights, Retrieved, Retriever
from qa.answering.timephrases import TimeQuery
from qa.config import READ_PASSAGES
from qa.errors import ConfigError
from qa.ingest import copies
from qa.models import Answer, AnswerSet, Mode, Passage, TimeWindow
from qa.runtime.embedding import Progress
from qa.runtime.embedding_cache import CachingEmbedder
from qa.store import Store
from qa.text import clean_question

if TYPE_CHECKING:
    from qa.archive import Archive

Day = date | None  # a day bounding the articles searched (since, until) or counted from (as_of)
MAX_ANSWERS = 10  # answers kept per question: the first top_k are shown, the rest serve "more"
PICKER_THRESHOLD = 0.015  # the sentence picker's default abstention threshold (bench/fit_picker.py)
LATEST_POOL = 100  # passages retrieved for a "latest" question, whose newest on-topic articles are read


class Answerer:
    """Questions answered from one archive's parts: its store, its embedding model and its reader."""

    def __init__(
        self,
        archive: Archive,
        fusion: FusionWeights = DEFAULT_WEIGHTS,
        picker: PickerWeights = DEFAULT_PICKER,
    ) -> None:
        self.archive = archive
        self.settings = archive.settings
        self.fusion = fusion
        self.picker = picker
        self._retriever: Retriever | None = None
        self._store: Store | None = None  # a view's own store (``over``), else the archive's
        self._lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        """Question → passages, with a cache of question and sentence vectors, made once per archive."""
        with self._lock:
            if self._retriever is None:
                embedder = CachingEmbedder(self.archive.embedder)
                self._retriever = Retriever(embedder, self.fusion, self.settings.mode)
            return self._retriever

    @property
    def store(self) -> Store:
        """The index the answers come from."""
        return self._store if self._store is not None else self.archive.store

    def over(self, store: Store) -> Answerer:
        """This answerer reading ``store`` instead (a part of the archive), its model and caches shared."""
        view = copy.copy(self)
        view._retriever, view._store, view._lock = self.retriever, store, threading.Lock()
        return view

    @property
    def abstain_threshold(self) -> float:
        """Answers scoring below this are withheld: the setting, else the answerer's calibrated default."""
        if self.settings.abstain_threshold is not None:
            return self.settings.abstain_threshold
        reader = self.archive.reader
        return reader.config.threshold if reader is not None else PICKER_THRESHOLD

    def warm_up(self, progress: Progress | None = None) -> None:
        """Open the index (built from the seeds where allowed) and load all that a question needs, the
        reader and the vectors included, by asking one: the next question pays for none of it."""
        self.archive.ensure_index(progress)
        self.ask("When did it start?")

    def validate_question(self, question: str) -> str:
        """The question cleaned of escape sequences and control characters; ``QuestionError`` when empty
        or too long."""
        return clean_question(question, self.settings.max_question_chars)

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode | None = None,
        since: Day = None,
        until: Day = None,
    ) -> list[Passage]:
        """The ``k`` best passages for a query, only from articles published inside its relative time
        words and the ``since``/``until`` days (inclusive) when there are any; those published in or
        just after a date it names come first."""
        query = self.validate_question(query)
        self.archive.ensure_index()
        timed = self._time(query, since, until, None)
        windows = timefilter.windows(timed)
        return self.retriever.retrieve_in_turn(self.store, timed.plain, k, mode, windows, timed.text)

    def searched_days(self, query: str, since: Day = None, until: Day = None) -> TimeWindow | None:
        """The publication days ``search`` keeps to for a query (its relative time words and the
        ``since``/``until`` days), None when unlimited."""
        return self._time(self.validate_question(query), since, until, None).window

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
        """Answers quoted from the archive, best first; empty when the archive does not hold one.

        Relative time words ("last week", "yesterday", counted from ``as_of``, today by default) and
        ``since``/``until`` (inclusive days) limit the articles searched; a date the question names
        ("in March 2005") favours them: articles published in it or in the weeks after it are read
        first, the others when none of those answers. "Latest" puts the newest good answer first.
        One sentence is never answered twice, and an answer from a story indexed several times lists
        the other copies (``also_in``). In a conversation a follow-up carries the earlier topic, and
        says only what is new."""
        question = self.validate_question(question)
        self.archive.ensure_index()
        timed = self._time(question, since, until, as_of)
        again = conversation.asked_again(timed.plain) if conversation and timed.phrases else None
        if again is not None:  # "and in October?": the last question, of October
            timed = self._time(f"{again} {' '.join(timed.phrases)}?", since, until, as_of)
        searched, plain = (conversation.rewrite(t) if conversation else t for t in (timed.text, timed.plain))
        top_k = top_k or self.settings.top_k
        k = max(10, top_k, self.settings.read_passages)
        limit = max(MAX_ANSWERS, top_k)
        for turn, window in enumerate(timefilter.windows(timed)):
            # Past the period's stories the question's dates are no keywords: "in 1987" named by every
            # other story of a 1987 archive would rank them above those on the question's topic.
            keywords = searched if turn == 0 else plain
            passages, answers, topical = self._answers(
                (plain, keywords), k, mode, window, timed.newest_first, limit
            )
            if answers:
                break
        answers = copies.one_per_story(self.store, answers)
        if timed.period is not None:
            answers = periods.named_period_first(answers, timed.period)
        if timed.newest_first:
            answers = timefilter.newest_first(answers, topical)
        passages = quoted_first(passages, answers)
        repeats: list[Answer] = []
        if conversation is not None and searched != question:  # a follow-up: say only what is new
            answers, repeats = conversation.withhold_repeats(answers)
        result = AnswerSet(
            question=question,
            answers=tuple(answers[:top_k]),
            passages=tuple(passages),
            more_answers=tuple(answers[top_k:]),
            rewritten_question=searched if searched != question else None,
            window=window,
            repeats=tuple(repeats),
            archive_ends=self._ends_before(window) if not answers else None,
        )
        if conversation is not None:
            conversation.record(question, searched, result, plain)
        return result

    def _answers(
        self,
        question: tuple[str, str],
        k: int,
        mode: Mode | None,
        window: TimeWindow | None,
        newest: bool,
        limit: int,
    ) -> tuple[list[Passage], list[Answer], set[str]]:
        """Passages inside ``window``, up to ``limit`` answers (``question``: plain, with keywords) and,
        for a "latest" question, the articles on its topic."""
        reader = self.archive.reader
        if reader is not None:
            # "Latest": the newest stories on the topic may rank below the first few; a deeper pool is
            # retrieved, and its newest on-topic articles are read, whatever their readings' scores.
            depth = k if newest else self.settings.read_passages
            pool = max(k, LATEST_POOL) if newest else k
            passages, readings, terms = self.read(question[0], pool, mode, window, depth, question[1], newest)
            calibration, threshold = reader.config.calibration, self.abstain_threshold
            if not newest:
                return passages, read_answers(passages, readings, calibration, threshold, limit, terms), set()
            every = read_answers(passages, readings, calibration, 0.0, limit, terms)  # scored once
            sure = [a for a in every if a.score >= threshold]
            # None on the topic (no news on it in the archive) and none sure: no answer
            return passages, timefilter.with_every_topical(sure, every, terms.topical), set(terms.topical)
        picker = dataclasses.replace(self.picker, passages=k) if newest else self.picker
        found = self.retriever.retrieve(self.store, question[0], k, mode, window, question[1])
        evidence = self.evidence(question[0], found, picker)
        topical = timefilter.topical_articles(question[0], found.passages) if newest else set()
        return list(evidence.passages), pick_answers(evidence, self.abstain_threshold, limit, picker), topical

    def read(
        self,
        question: str,
        k: int = 10,
        mode: Mode | None = None,
        window: TimeWindow | None = None,
        depth: int = READ_PASSAGES,
        keywords: str | None = None,
        newest: bool = False,
    ) -> tuple[list[Passage], list[Reading], QuestionTerms]:
        """The ``k`` best passages, the reader's verdict on the first ``depth`` and the question's terms
        and vector as retrieval saw them (``ask``, calibration); BM25 reads ``keywords`` when given.
        ``newest``: the newest articles on the topic are read first (``newest_topical_first``)."""
        reader = self.archive.reader
        if reader is None:
            raise ConfigError("the reader is off (QA_READER=off)")
        found = self.retriever.retrieve(self.store, question, k, mode, window, keywords)
        passages, topical = found.passages, frozenset[str]()
        if newest:
            topical = frozenset(timefilter.topical_articles(question, passages))
            passages = timefilter.newest_topical_first(passages, topical)
        readings = reader.read(question, [p.text for p in passages[:depth]])
        return (
            passages,
            readings,
            QuestionTerms(found.stems, found.idf, found.vector, found.unseen_names, topical),
        )

    def evidence(self, question: str, found: Retrieved, picker: PickerWeights) -> Evidence:
        """What the sentence picker weighs for a question's passages, every vector it needs included."""
        # An index without stored sentence vectors: the sentences the picker weighs are encoded
        # (and cached) here, so that answering is a function of plain data.
        unstored = unstored_sentences(found.passages, picker)
        vectors = self.retriever.embedder.encode(unstored) if unstored else None
        return Evidence(question, found.passages, found.stems, found.idf, found.vector, vectors)

    def _ends_before(self, window: TimeWindow | None) -> date | None:
        """The archive's newest day when the window searched starts after it (else None)."""
        if window is None or window.since is None:
            return None
        with self.store.snapshot() as snap:
            newest = snap.newest_day()
        return newest if newest is not None and newest < window.since else None

    def _time(self, question: str, since: Day, until: Day, as_of: Day) -> TimeQuery:
        """The windows and order asked for, and the question without its relative time words."""
        with self.store.snapshot() as snap:
            return timefilter.plan(snap, question, since, until, as_of)
