"""The facade every front end calls: index articles, ask questions, list and remove documents."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import shlex
import stat
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path, PurePosixPath

import numpy as np

from qa import duplicates, timefilter
from qa.answers import (
    DEFAULT_PICKER,
    Candidate,
    Evidence,
    PickerWeights,
    gather_candidates,
    pick_answers,
    read_answers,
)
from qa.articles import SUPPORTED_SUFFIXES, content_hash, iter_files, parse_document
from qa.chunking import embedding_text, split_into_chunks
from qa.config import Settings
from qa.conversation import Conversation, rewrite_question
from qa.embedding import (
    Embedder,
    PassageEmbedder,
    Progress,
    SentenceTransformerEmbedder,
    Vectors,
    model_identity,
    pick_device,
    resolve_model,
)
from qa.errors import ConfigError, DocumentError, DocumentNotFoundError, NoIndexError, QuestionError
from qa.fetching import Fetcher
from qa.models import Answer, AnswerSet, Article, Chunk, DocumentInfo, Feed, IndexReport, Passage
from qa.reader import Reader, Reading
from qa.retrieval import DEFAULT_WEIGHTS, FusionWeights, keyword_scores, retrieve, stem_terms
from qa.selection import FileSelection
from qa.store import DocumentOrder, LocalStore, WebState
from qa.timephrases import TimeQuery, TimeWindow
from qa.types import Mode
from qa.web_sources import WebSources

logger = logging.getLogger(__name__)

_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")

TEXT_CACHE_SIZE = 20_000  # question and sentence vectors kept (about 1.5 KB each)
ENCODE_ALONGSIDE_FROM = 50_000  # chunks from which BM25 runs while the question is encoded
ALL_ARTICLES = FileSelection()
MAX_ANSWERS = 10  # answers kept per question: the first top_k are shown, the rest serve "more"
PICKER_THRESHOLD = 0.015  # the sentence picker's default abstention threshold (bench/fit_picker.py)
READ_PASSAGES = 5  # passages the reader reads per question (one batched forward pass)


@dataclasses.dataclass(frozen=True, slots=True)
class Embedded:
    """One article ready to store: its chunks, their vectors, each chunk's sentence vectors."""

    chunks: list[Chunk]
    vectors: Vectors
    sentences: list[Vectors | None]


class Engine:
    """One archive: its model, its index, and every operation front ends offer."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        fusion: FusionWeights = DEFAULT_WEIGHTS,
        picker: PickerWeights = DEFAULT_PICKER,
    ) -> None:
        self.settings = settings
        self.fusion = fusion
        self.picker = picker
        self._embedder = embedder
        self._reader: Reader | None = None
        self._store: LocalStore | None = None
        self._lock = threading.RLock()
        self._warm = False
        self._cache_lock = threading.Lock()
        self._text_vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._encoders: ThreadPoolExecutor | None = None
        self._web: WebSources | None = None
        self._web_lock = threading.Lock()  # one run over URLs at a time (a refresh, an index)

    # -- lazily loaded parts ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once per engine."""
        with self._lock:
            if self._embedder is None:
                self._embedder = SentenceTransformerEmbedder(
                    self.settings.model,
                    self.settings.device,
                    self.settings.batch_size,
                    self.settings.verify_model,
                )
            return self._embedder

    @property
    def reader(self) -> Reader | None:
        """The trained answer reader, loaded once per engine; None when ``QA_READER=off``."""
        with self._lock:
            if self._reader is None and self.settings.reader != "off":
                base, _ = resolve_model("default", self.settings.verify_model)
                self._reader = Reader(self.settings.reader, base, pick_device(self.settings.device))
            return self._reader

    @property
    def abstain_threshold(self) -> float:
        """Answers scoring below this are withheld: the setting, else the answerer's calibrated default."""
        if self.settings.abstain_threshold is not None:
            return self.settings.abstain_threshold
        reader = self.reader
        return reader.config.threshold if reader is not None else PICKER_THRESHOLD

    @property
    def store(self) -> LocalStore:
        """The index, opened (or created) once per engine."""
        with self._lock:
            if self._store is None:
                recorded = LocalStore.recorded_model(self.settings.index_dir)
                if (
                    recorded is not None
                    and self._embedder is None
                    and recorded[0] == model_identity(self.settings.model)
                ):
                    # Listing or removing documents needs no model: open with what the index records.
                    name, dimension = recorded
                else:
                    name, dimension = self.embedder.name, self.embedder.dimension
                self._store = LocalStore(
                    self.settings.index_dir,
                    dimension,
                    name,
                    self.settings.lock_timeout,
                    self.settings.index_type,
                    self.settings.index_threshold,
                )
            return self._store

    @property
    def web(self) -> WebSources:
        """Fetching feeds, sitemaps and pages, and the feed registry of this index."""
        with self._lock:
            if self._web is None:
                self._web = WebSources(
                    Fetcher(self.settings), WebState(self.store.index_dir), self.store.file_hash
                )
            return self._web

    def close(self) -> None:
        """Release the index and the web connections (the model stays loaded)."""
        with self._lock:
            self._store = None
            if self._web is not None:
                self._web.fetcher.close()
                self._web = None

    # -- questions -------------------------------------------------------------------------------
    def validate_question(self, question: str) -> str:
        """The question cleaned of terminal escape sequences and control characters; ``QuestionError``
        when empty or too long."""
        question = _TERMINAL_ESCAPE.sub(" ", question)  # "\x1b[31m" is colour, not words
        cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in question).strip()
        if not cleaned:
            raise QuestionError("the question is empty")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise QuestionError(f"the question is too long ({len(cleaned)} characters; the limit is {limit})")
        return " ".join(cleaned.split())

    def require_index(self) -> None:
        """``NoIndexError`` when a chosen index directory holds no index (the default may self-build)."""
        folder = self.settings.index_dir
        if self.settings.index_dir_chosen() and not LocalStore.exists(folder):
            raise NoIndexError(f"no index in {folder}: build it with `{_index_command(folder)}`")

    def ensure_index(self, progress: Progress | None = None) -> None:
        """Build the index from the bundled seeds when it is empty (only at the default location)."""
        self.require_index()
        chosen = self.settings.index_dir_chosen()
        if not self.store.is_empty() or chosen:
            if not self._warm:
                self._warm = True
                if chosen and self.store.is_empty():  # every article removed: nothing to answer from
                    folder = self.settings.index_dir
                    logger.warning(
                        "the index in %s is empty: add articles with `%s`", folder, _index_command(folder)
                    )
                self.embedder.encode(["warm up"])  # the first question should not pay for lazy setup
            return
        seeds = self.settings.seeds_dir
        if seeds is None or not Path(seeds).is_dir():
            raise NoIndexError(
                f"no index in {self.settings.index_dir} and no seed articles to build one: "
                "run `qa index PATH` first"
            )
        logger.info("no index yet: building one from %s", seeds)
        report = self.index_paths([Path(seeds)], progress)
        if self.store.is_empty():
            raise NoIndexError(f"no article could be indexed from {seeds} ({len(report.skipped)} skipped)")

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for a query, from articles published inside its time words and the
        ``since``/``until`` days (inclusive) when there are any."""
        query = self.validate_question(query)
        self.ensure_index()
        timed = self._time(query, since, until, None)
        return self._retrieve(timed.text, k, mode, timed.window)[0]

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

        Time words in the question ("in March 2005", "last week", relative to ``as_of``, today by
        default) and ``since``/``until`` (inclusive days) limit the articles searched; "latest" puts
        the newest good answer first. One sentence is never answered twice, and an answer from a
        story indexed several times lists the other copies (``also_in``)."""
        question = self.validate_question(question)
        self.ensure_index()
        timed = self._time(question, since, until, as_of)
        searched = rewrite_question(timed.text, conversation.context()) if conversation else timed.text
        top_k = top_k or self.settings.top_k
        k = max(10, top_k)
        limit = max(MAX_ANSWERS, top_k)
        # "Latest": every retrieved article may hold the newest answer, not only the top few.
        if self.reader is not None:
            depth = k if timed.newest_first else READ_PASSAGES
            passages, readings = self.read(searched, k, mode, timed.window, depth)
            calibration = self.reader.config.calibration
            answers = read_answers(passages, readings, calibration, self.abstain_threshold, limit)
        else:
            evidence = self._evidence(searched, k, mode, timed.window)
            passages = list(evidence.passages)
            picker = dataclasses.replace(self.picker, passages=k) if timed.newest_first else self.picker
            answers = pick_answers(evidence, self.abstain_threshold, limit, picker)
        answers = self._one_per_story(answers)
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
            window=timed.window,
            repeats=tuple(repeats),
        )
        if conversation is not None:
            conversation.record(question, searched, result)
        return result

    def read(
        self,
        question: str,
        k: int = 10,
        mode: Mode | None = None,
        window: TimeWindow | None = None,
        depth: int = READ_PASSAGES,
    ) -> tuple[list[Passage], list[Reading]]:
        """The ``k`` best passages and the reader's verdict on the first ``depth`` (``ask``, calibration)."""
        reader = self.reader
        if reader is None:
            raise ConfigError("the reader is off (QA_READER=off)")
        passages = self._retrieve(question, k, mode, window)[0]
        return passages, reader.read(question, [p.text for p in passages[:depth]])

    def _time(self, question: str, since: date | None, until: date | None, as_of: date | None) -> TimeQuery:
        """The window and order asked for, and the question without its time words."""
        with self.store.snapshot() as snap:
            return timefilter.plan(snap, question, since, until, as_of)

    def _one_per_story(self, answers: list[Answer]) -> list[Answer]:
        """Answers without repeats from copies of one story, each naming the other copies."""
        with self.store.snapshot() as snap:
            roots = snap.originals([a.article.id for a in answers])
            stories = snap.copies(list(roots.values()))
        return duplicates.with_copies(answers, roots, stories)

    def candidates(self, question: str, mode: Mode | None = None) -> list[Candidate]:
        """Every candidate sentence ``ask`` weighs for a question, with its evidence (for fitting)."""
        question = self.validate_question(question)
        self.ensure_index()
        return gather_candidates(self._evidence(question, max(10, self.settings.top_k), mode), self.picker)

    def _evidence(
        self, question: str, k: int, mode: Mode | None, window: TimeWindow | None = None
    ) -> Evidence:
        """The passages for a question, its terms with their IDF in this archive, and its vector."""
        passages, stems, idf, vector = self._retrieve(question, k, mode, window)
        # Sentences of an index without stored sentence vectors are encoded (and cached).
        return Evidence(question, passages, stems, idf, stem_terms, vector, self._vectors_for)

    def _retrieve(
        self, question: str, k: int, mode: Mode | None, window: TimeWindow | None = None
    ) -> tuple[list[Passage], list[str], dict[str, float], Vectors]:
        """Passages, question stems, their IDF in this archive, and the question's vector.

        In a large archive the question is encoded on a worker thread while BM25 searches on this
        one (both release the GIL), so keyword search adds no time to the encoder's; in a small one
        BM25 takes a millisecond and the hand-over would cost more than it saves."""
        mode = mode or self.settings.mode
        stems = stem_terms(question)
        with self.store.snapshot() as snap:
            alongside = mode != "dense" and snap.vector_count() >= ENCODE_ALONGSIDE_FROM
            encoding = self._encode_later(question) if alongside else self._encode_now(question)
            total, frequencies = snap.term_frequencies(stems)
            keyword = None
            if mode != "dense":
                keyword = keyword_scores(snap, question, k, self.fusion, frequencies, window)
            allowed = snap.chunk_ids_in(window) if window is not None else None
            vector = encoding.result()
            passages = retrieve(snap, question, vector, k, mode, self.fusion, frequencies, keyword, allowed)
        idf = {
            s: math.log(1.0 + (total - frequencies.get(s, 0) + 0.5) / (frequencies.get(s, 0) + 0.5))
            for s in stems
        }
        return passages, stems, idf, vector

    def _encode_later(self, text: str) -> Future[Vectors]:
        """The vector of one text, computed on the engine's encoder threads."""
        with self._lock:
            if self._encoders is None:
                self._encoders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-encode")
            encoders = self._encoders
        return encoders.submit(lambda: self._vectors_for([text])[0])

    def _encode_now(self, text: str) -> Future[Vectors]:
        """The vector of one text, computed on this thread (a finished future)."""
        done: Future[Vectors] = Future()
        done.set_result(self._vectors_for([text])[0])
        return done

    def _vectors_for(self, texts: list[str]) -> Vectors:
        """Embeddings of questions and candidate sentences, each distinct text encoded once.

        Overlapping chunks repeat sentences within a question, and popular questions and passages
        repeat across questions: a bounded LRU cache keeps both off the encoder.
        """
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._text_vectors))
        if missing:
            encoded = self.embedder.encode(missing)
            with self._cache_lock:
                for text, row in zip(missing, encoded, strict=True):
                    self._text_vectors[text] = row
                while len(self._text_vectors) > TEXT_CACHE_SIZE:
                    self._text_vectors.popitem(last=False)
        with self._cache_lock:
            rows = []
            for text in texts:
                row = self._text_vectors.get(text)
                if row is None:  # evicted by a concurrent question in between: encode again
                    row = self.embedder.encode([text])[0]
                else:
                    self._text_vectors.move_to_end(text)
                rows.append(row)
        return np.vstack(rows)

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
            return self._index(paths, progress, selection, urls)

    def _index(
        self, paths: Sequence[Path], progress: Progress | None, selection: FileSelection, urls: Sequence[str]
    ) -> IndexReport:
        report = IndexReport()
        changed: list[tuple[str, str, list[Article]]] = []  # (file key, sha256, articles)
        vanished: list[str] = []
        for root in paths:
            if not root.exists():
                reason = "no such file or directory" if not root.is_symlink() else "broken symbolic link"
                self._skip(report, str(root), reason)
                continue
            seen: set[str] = set()
            files = self._select(root, selection, report)
            shown_from = root if root.is_dir() else root.parent  # sources are shown relative to it
            for number, path in enumerate(files, start=1):
                key = str(path.resolve()) if path.exists() else str(path.absolute())
                seen.add(key)
                loaded = self._read_file(path, key, report, shown_from)
                if loaded is not None:
                    changed.append(loaded)
                if progress is not None:
                    progress(number, len(files), "reading")
            if root.is_dir():
                vanished.extend(f for f in self.store.files_under(str(root.resolve())) if f not in seen)
        not_articles = [p for p, why in report.left_out if why == "not an article"]
        if not_articles:
            logger.warning(
                "left out %d file(s) that are not articles (%s%s); name one on the command line to index it",
                len(not_articles),
                ", ".join(Path(p).name for p in not_articles[:5]),
                ", ..." if len(not_articles) > 5 else "",
            )
        fetched = self.web.read(urls, report, progress) if urls else None
        if fetched is not None:
            changed.extend(fetched.changed)
        articles = [a for _, _, batch in changed for a in batch]
        vectors_by_article = self._embed_articles(articles, progress, report)
        with self.store.writer() as writer:
            for key in vanished:
                report.removed.extend(writer.forget_file(key))
            for key, sha, batch in changed:
                for old in writer.articles_of_file(key):
                    writer.remove_article(old)
                for article in batch:
                    embedded = vectors_by_article[id(article)]
                    writer.add_article(article, embedded.chunks, embedded.vectors, key, embedded.sentences)
                    report.added.append(article.id)
                writer.set_file(key, sha)
        if fetched is not None:
            self.web.remember(fetched)  # only now: an interrupted run fetches those pages again
        return report

    def feeds(self) -> list[Feed]:
        """The feeds and sitemaps ``refresh`` polls."""
        return self.web.state.feeds()

    def add_feed(self, url: str) -> Feed:
        """Register a feed or sitemap (fetched once to check it is one); ``refresh`` reads it."""
        return self.web.add_feed(url)

    def remove_feed(self, url: str) -> None:
        """Stop polling a feed; its articles stay."""
        self.web.remove_feed(url)

    def refresh(self, urls: Sequence[str] | None = None, progress: Progress | None = None) -> IndexReport:
        """Poll every registered feed (or those of ``urls``) once: new or changed articles are embedded."""
        return self.index_paths([], progress, urls=self.web.feed_urls(urls))

    @staticmethod
    def _select(root: Path, selection: FileSelection, report: IndexReport) -> list[Path]:
        """The files of ``root`` to read; the others are recorded in ``report.left_out``."""
        if not root.is_dir():
            return [root]  # a file named directly is always read
        files: list[Path] = []
        for path in iter_files(root):
            reason = selection.leave_out(path, root)
            if reason is None:
                files.append(path)
            else:
                report.left_out.append((str(path), reason))
        return files

    def _read_file(
        self, path: Path, key: str, report: IndexReport, folder: Path
    ) -> tuple[str, str, list[Article]] | None:
        """Load one file unless unchanged; problems are recorded as skips with a warning.

        Ids come from the full path, as before; the source shown is ``folder-name/path-below-it``.
        """
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            self._skip(report, str(path), f"unsupported file type {suffix!r}")
            return None
        try:
            data = self._read_bytes(path)
        except DocumentError as exc:
            self._skip(report, str(path), exc.reason)
            return None
        except OSError as exc:
            self._skip(report, str(path), exc.strerror or str(exc))
            return None
        sha = content_hash(data)
        if self.store.file_hash(key) == sha:
            report.unchanged += 1
            return None
        try:
            articles, problems = parse_document(data, self._source_name(path), suffix)
        except DocumentError as exc:
            self._skip(report, str(path), exc.reason)
            return None
        except Exception as exc:  # a parser's failure on one file must not cost the rest of the run
            logger.debug("%s: parser failed", path, exc_info=True)
            self._skip(report, str(path), f"could not be parsed ({type(exc).__name__}: {exc})")
            return None
        for where, reason in problems:
            self._skip(report, where, reason)
        shown = PurePosixPath(folder.resolve().name, path.relative_to(folder).as_posix()).as_posix()
        return key, sha, [dataclasses.replace(a, source=shown) for a in articles]

    def _read_bytes(self, path: Path) -> bytes:
        """A regular file's bytes, at most ``max_file_bytes``; ``DocumentError`` for anything else."""
        limit = self.settings.max_file_bytes
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DocumentError(str(path), "not a regular file (a FIFO, device or socket)")
            if info.st_size > limit:
                raise DocumentError(str(path), f"too large ({info.st_size:,} bytes; the limit is {limit:,})")
            data = handle.read(limit + 1)  # a file growing while read is still bounded
        if len(data) > limit:
            raise DocumentError(str(path), f"too large (more than {limit:,} bytes)")
        return data

    def _source_name(self, path: Path) -> str:
        """How an answer names its file: ``seeds/<name>`` for the bundled corpus, else the full path."""
        seeds = self.settings.seeds_dir
        resolved = path.resolve()
        if seeds is not None and resolved.is_relative_to(Path(seeds).resolve()):
            return "seeds/" + resolved.relative_to(Path(seeds).resolve()).as_posix()
        return str(resolved)

    @staticmethod
    def _skip(report: IndexReport, where: str, reason: str) -> None:
        logger.warning("%s: skipped, %s", where, reason)
        report.skipped.append((where, reason))

    def _embed_articles(
        self, articles: list[Article], progress: Progress | None, report: IndexReport
    ) -> dict[int, Embedded]:
        """Chunks, their vectors and their sentences' vectors for each article, in large batches."""
        if not articles:
            return {}
        chunk_lists = split_into_chunks(articles)
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        for article, chunks in zip(articles, chunk_lists, strict=True):
            for chunk in chunks:
                text = embedding_text(article.title, chunk.text)
                shift = len(text) - len(chunk.text)  # the title line comes first
                texts.append(text)
                spans.append([(a + shift, b + shift) for a, b in chunk.sentences])
        embedder = self.embedder
        sentence_vectors: list[Vectors | None]
        if isinstance(embedder, PassageEmbedder):
            vectors, pooled = embedder.encode_passages(texts, spans, progress)
            sentence_vectors = list(pooled)
        else:  # sentences are then encoded when a question needs them
            vectors = embedder.encode(texts, progress)
            sentence_vectors = [None] * len(texts)
        report.chunks_embedded += len(texts)
        out = {}
        offset = 0
        for article, chunks in zip(articles, chunk_lists, strict=True):
            end = offset + len(chunks)
            out[id(article)] = Embedded(chunks, vectors[offset:end], sentence_vectors[offset:end])
            offset = end
        return out

    def add_articles(self, articles: list[Article]) -> IndexReport:
        """Add articles directly (replacing any with the same id)."""
        report = IndexReport()
        embedded = self._embed_articles(articles, None, report)
        with self.store.writer() as writer:
            for article in articles:
                done = embedded[id(article)]
                writer.add_article(article, done.chunks, done.vectors, None, done.sentences)
                report.added.append(article.id)
        return report

    def load_upload(self, filename: str, data: bytes) -> list[Article]:
        """Parse an uploaded file's bytes; its name only picks the format and labels the source."""
        name = Path(filename.replace("\\", "/")).name or "upload.txt"
        # Ids made without an explicit "id" come from the content, so two uploads never collide.
        keyed = f"upload:{name}@{content_hash(data)[:16]}"
        articles, problems = parse_document(data, keyed, Path(name).suffix)
        for where, reason in problems:
            logger.warning("%s: skipped, %s", where.replace(keyed, f"upload:{name}"), reason)
        if not articles:
            raise DocumentError(name, "no article found")
        return [dataclasses.replace(a, source=f"upload:{name}") for a in articles]

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Indexed articles, in the order they were added."""
        return self.document_page(offset, limit)[0]

    def document_page(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles, those whose title or source holds ``search``, and their total."""
        self.require_index()
        return self.store.documents(offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str]:
        """One article's info and its full text."""
        self.require_index()
        found = self.store.document(doc_id)
        if found is None:
            raise DocumentNotFoundError(doc_id)
        return found

    def find_document(self, ref: str) -> tuple[DocumentInfo, str]:
        """One article by its id, its source as listed, or the path of the file it was read from."""
        self.require_index()
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

    def stats(self) -> dict[str, int]:
        """``{"articles": n, "chunks": m}`` (zeros where a chosen index directory holds no index)."""
        if self.settings.index_dir_chosen() and not LocalStore.exists(self.settings.index_dir):
            return {"articles": 0, "chunks": 0}
        return self.store.stats()


def _index_command(folder: Path) -> str:
    """The command that builds the index in ``folder``."""
    return f"qa --index-dir {shlex.quote(str(folder))} index FOLDER"
