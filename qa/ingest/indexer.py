"""Articles into the index: plan (which files changed or vanished), read, embed, write."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from qa.config import Settings
from qa.errors import DocumentError
from qa.ingest.articles import (
    SUPPORTED_SUFFIXES,
    content_hash,
    parse_document,
    text_article_id,
    upload_name,
)
from qa.ingest.chunking import embedding_text, split_into_chunks
from qa.ingest.selection import ALL_ARTICLES, FileSelection, iter_files
from qa.models import Article, Chunk, IndexReport, Skipped
from qa.runtime.embedding import Embedder, PassageEmbedder, Progress, Vectors
from qa.store import Store
from qa.web.sources import WebSources, skip

logger = logging.getLogger(__name__)

Changed = tuple[str, str, list[Article]]  # (file key, sha256, the file's articles)


@dataclasses.dataclass(frozen=True, slots=True)
class Embedded:
    """One article ready to store: its chunks, their vectors, each chunk's sentence vectors."""

    chunks: list[Chunk]
    vectors: Vectors
    sentences: list[Vectors | None]


def read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``; ``DocumentError`` for anything else."""
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


def select_files(root: Path, selection: FileSelection, report: IndexReport) -> list[Path]:
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


def load_upload(filename: str, data: bytes) -> tuple[list[Article], list[Skipped]]:
    """An uploaded file's articles and its skipped parts; its name only picks the format and
    labels the source. ``DocumentError`` (naming the file) when nothing in it is an article."""
    name = upload_name(filename)
    # Ids made without an explicit "id" come from the content, so two uploads never collide.
    keyed = f"upload:{name}@{content_hash(data)[:16]}"
    try:
        articles, problems = parse_document(data, keyed, Path(name).suffix)
    except DocumentError as exc:
        raise DocumentError(shown_place(exc.path, keyed, name), exc.reason) from None
    skipped = [(shown_place(where, keyed, name), reason) for where, reason in problems]
    for where, reason in skipped:
        logger.info("upload:%s: skipped, %s", where, reason)
    if not articles:
        raise DocumentError(name, "no article found")
    return [dataclasses.replace(a, source=f"upload:{name}") for a in articles], skipped


def load_posted(record: dict[str, Any]) -> tuple[list[Article], list[Skipped]]:
    """An article posted as one JSON object (named ``article.json``); one without an id is named by
    its text, so posting it again replaces it."""
    if record.get("id") is None:
        record = {**record, "id": text_article_id(str(record.get("text", "")))}
    try:
        return load_upload("article.json", json.dumps(record).encode("utf-8"))
    except DocumentError as exc:  # named as the client knows it: no file was sent
        raise DocumentError("the posted article", exc.reason) from None


def shown_place(where: str, keyed: str, name: str) -> str:
    """A place the parser named after ``keyed`` (``keyed:3``, ``keyed#1``) as the client knows it:
    ``name:3`` (a line) or ``name, item 2`` (a JSON array's item, counted from 1)."""
    if not where.startswith(keyed):
        return where
    rest = where[len(keyed) :]
    if rest.startswith("#") and rest[1:].isdigit():
        return f"{name}, item {int(rest[1:]) + 1}"
    return name + rest


class Parts(Protocol):
    """What indexing uses of an archive (``qa.archive.Archive``), each part opened on first use."""

    settings: Settings

    @property
    def store(self) -> Store: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def web(self) -> WebSources: ...

    def nothing_stored(self) -> bool: ...


class Indexer:
    """Writes files, URLs' pages and given articles into one archive, embedding only what changed.

    Parts are asked for only when needed: an unchanged folder loads no model, and a folder holding
    the index is listed before the index is created in it."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.settings = parts.settings

    def index(
        self,
        paths: Sequence[Path],
        progress: Progress | None,
        selection: FileSelection = ALL_ARTICLES,
        urls: Sequence[str] = (),
    ) -> IndexReport:
        """Index files, folders and URLs (feeds, sitemaps, pages); a folder's vanished (or now left
        out) files are removed."""
        report = IndexReport()
        changed, vanished = self._read_paths(paths, progress, selection, report)
        fetched = self.parts.web.read(urls, report, progress) if urls else None
        if fetched is not None:
            changed.extend(fetched.changed)
        articles = [a for _, _, batch in changed for a in batch]
        vectors_by_article = self.embed(articles, progress, report)
        if not changed and not self.index_exists():  # a first run that failed: no empty index left
            return report
        with self.parts.store.writer() as writer:
            for key in vanished:
                report.removed.extend(writer.forget_file(key))
            for key, sha, batch in changed:
                for old in writer.articles_of_file(key):
                    writer.remove_article(old)
                    report.removed.append(old)  # gone from a file that changed, unless added again below
                for article in batch:
                    embedded = vectors_by_article[id(article)]
                    writer.add_article(article, embedded.chunks, embedded.vectors, key, embedded.sentences)
                    report.added.append(article.id)
                writer.set_file(key, sha)
        added = set(report.added)
        report.removed = [article for article in report.removed if article not in added]
        if fetched is not None:
            self.parts.web.remember(fetched)  # only now: an interrupted run fetches those pages again
        return report

    def add_articles(self, articles: list[Article]) -> IndexReport:
        """Add articles directly (replacing any with the same id)."""
        report = IndexReport()
        embedded = self.embed(articles, None, report)
        with self.parts.store.writer() as writer:
            for article in articles:
                done = embedded[id(article)]
                writer.add_article(article, done.chunks, done.vectors, None, done.sentences)
                report.added.append(article.id)
        return report

    def index_exists(self) -> bool:
        """False while the local index directory holds no index: a run creates one only to write."""
        return not self.parts.nothing_stored()

    def _read_paths(
        self, paths: Sequence[Path], progress: Progress | None, selection: FileSelection, report: IndexReport
    ) -> tuple[list[Changed], list[str]]:
        """The changed files' articles, and the indexed files of the folders that are gone."""
        changed: list[Changed] = []
        vanished: list[str] = []
        for root in paths:
            if not root.exists():
                reason = "no such file or directory" if not root.is_symlink() else "broken symbolic link"
                skip(report, str(root), reason)
                continue
            seen: set[str] = set()
            files = select_files(root, selection, report)
            shown_from = root if root.is_dir() else root.parent  # sources are shown relative to it
            for number, path in enumerate(files, start=1):
                key = str(path.resolve()) if path.exists() else str(path.absolute())
                seen.add(key)
                loaded = self._read_file(path, key, report, shown_from)
                if loaded is not None:
                    changed.append(loaded)
                if progress is not None:
                    progress(number, len(files), "reading")
            if root.is_dir() and self.index_exists():
                vanished.extend(f for f in self.parts.store.files_under(str(root.resolve())) if f not in seen)
        not_articles = [p for p, why in report.left_out if why == "not an article"]
        if not_articles:
            logger.warning(
                "left out %d file(s) that are not articles (%s%s); name one on the command line to index it",
                len(not_articles),
                ", ".join(Path(p).name for p in not_articles[:5]),
                ", ..." if len(not_articles) > 5 else "",
            )
        return changed, vanished

    def _read_file(self, path: Path, key: str, report: IndexReport, folder: Path) -> Changed | None:
        """Load one file unless unchanged; problems are recorded as skips with a warning.

        Ids come from the full path, as before; the source shown is ``folder-name/path-below-it``.
        """
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            skip(report, str(path), f"unsupported file type {suffix!r}")
            return None
        try:
            data = read_bounded(path, self.settings.max_file_bytes)
        except DocumentError as exc:
            skip(report, str(path), exc.reason)
            return None
        except OSError as exc:
            skip(report, str(path), exc.strerror or str(exc))
            return None
        sha = content_hash(data)
        if self.index_exists() and self.parts.store.file_hash(key) == sha:
            report.unchanged += 1
            return None
        try:
            articles, problems = parse_document(data, self._source_name(path), suffix)
        except DocumentError as exc:
            skip(report, str(path), exc.reason)
            return None
        except Exception as exc:  # a parser's failure on one file must not cost the rest of the run
            logger.debug("%s: parser failed", path, exc_info=True)
            skip(report, str(path), f"could not be parsed ({type(exc).__name__}: {exc})")
            return None
        for where, reason in problems:
            skip(report, where, reason)
        shown = PurePosixPath(folder.resolve().name, path.relative_to(folder).as_posix()).as_posix()
        return key, sha, [dataclasses.replace(a, source=shown) for a in articles]

    def _source_name(self, path: Path) -> str:
        """How an answer names its file: ``seeds/<name>`` for the bundled corpus, else the full path."""
        seeds = self.settings.seeds_dir
        resolved = path.resolve()
        if seeds is not None and resolved.is_relative_to(Path(seeds).resolve()):
            return "seeds/" + resolved.relative_to(Path(seeds).resolve()).as_posix()
        return str(resolved)

    def embed(
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
        embedder = self.parts.embedder
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
