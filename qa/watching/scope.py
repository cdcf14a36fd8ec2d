"""A store seen through a keyhole: questions are answered from a few articles only (the new ones)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from qa.models import ArticleMeta, DocumentInfo, TimeWindow
from qa.store import ChunkRecord, DocumentOrder, Ids, Snapshot, Store, Vectors, Writer

if TYPE_CHECKING:
    from qa.answering.answerer import Answerer
    from qa.engine import Engine

KEYWORD_ROWS = 16_384  # BM25 rows read to find the scope's passages among the archive's best


class ScopedSnapshot:
    """A snapshot whose searches find only the passages of the scope's articles."""

    def __init__(self, inner: Snapshot, chunk_ids: Ids) -> None:
        self._inner = inner
        self._ids = chunk_ids
        self._members = {int(i) for i in chunk_ids}

    def vector_count(self) -> int:
        """Number of the scope's passages."""
        return len(self._ids)

    def dense_search(
        self, query: Vectors, k: int, allowed: Ids | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """The best ``k`` of the scope's passages (among ``allowed`` when given)."""
        ids = self._ids if allowed is None else np.intersect1d(self._ids, allowed)
        if not len(ids):
            return np.zeros((len(query), 0), dtype=np.float32), np.zeros((len(query), 0), dtype=np.int64)
        return self._inner.dense_search(query, k, ids)

    def chunk_vectors(self, ids: Ids) -> Vectors:
        """The stored vectors of these chunk ids."""
        return self._inner.chunk_vectors(ids)

    def keyword_search(
        self, terms: Sequence[str], k: int, window: TimeWindow | None = None
    ) -> list[tuple[int, float]]:
        """BM25's best ``k`` of the scope's passages, scored as in the whole archive."""
        rows = self._inner.keyword_search(terms, KEYWORD_ROWS, window)
        return [(i, s) for i, s in rows if i in self._members][:k]

    def term_frequencies(self, stems: list[str]) -> tuple[int, dict[str, int]]:
        """The whole archive's term statistics: a word is as rare as it is there."""
        return self._inner.term_frequencies(stems)

    def chunk_records(self, ids: list[int]) -> dict[int, ChunkRecord]:
        """Stored chunks by id."""
        return self._inner.chunk_records(ids)

    def has_dates(self) -> bool:
        """True when an article of the archive has a date."""
        return self._inner.has_dates()

    def newest_day(self) -> date | None:
        """The archive's newest publication day (a yearless date in a watch falls in its span)."""
        return self._inner.newest_day()

    def chunk_ids_in(self, window: TimeWindow) -> Ids:
        """The scope's passages from articles published inside the window."""
        return np.intersect1d(self._ids, self._inner.chunk_ids_in(window))

    def chunk_ids_of(self, article_ids: Sequence[str]) -> Ids:
        """The passages of these articles, inside the scope."""
        return np.intersect1d(self._ids, self._inner.chunk_ids_of(article_ids))

    def originals(self, ids: Sequence[str]) -> dict[str, str]:
        """Article id → the id of its story's original."""
        return self._inner.originals(ids)

    def copies(self, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
        """Every copy of each story, by the original's id."""
        return self._inner.copies(roots)


class ScopedStore:
    """A store that answers from ``article_ids`` only; listings and writes are the whole store's."""

    def __init__(self, inner: Store, article_ids: Sequence[str]) -> None:
        self._inner = inner
        self.article_ids = tuple(dict.fromkeys(article_ids))

    @contextmanager
    def snapshot(self) -> Iterator[ScopedSnapshot]:
        """A view of the scope's passages in the store's current version."""
        with self._inner.snapshot() as snap:
            yield ScopedSnapshot(snap, snap.chunk_ids_of(self.article_ids))

    def writer(self) -> AbstractContextManager[Writer]:
        """The whole store's writer."""
        return self._inner.writer()

    def is_empty(self) -> bool:
        """True when the store holds nothing."""
        return self._inner.is_empty()

    def stats(self) -> dict[str, int]:
        """The whole store's numbers."""
        return self._inner.stats()

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of the whole store's articles."""
        return self._inner.documents(offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article."""
        return self._inner.document(doc_id)

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file."""
        return self._inner.article_ids_from(source)

    def file_hash(self, path: str) -> str | None:
        """A file's recorded content hash."""
        return self._inner.file_hash(path)

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder."""
        return self._inner.files_under(folder)

    def close(self) -> None:
        """Nothing: the inner store belongs to its engine."""


def answering_from(engine: Engine, article_ids: Sequence[str]) -> Answerer:
    """The answerer reading these articles only (its model, reader and caches shared)."""
    return engine.answerer.over(ScopedStore(engine.store, article_ids))
