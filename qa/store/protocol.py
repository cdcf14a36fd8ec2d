"""What the engine needs from a store: the ``Store``, ``Snapshot`` and ``Writer`` protocols.

``qa.store.LocalStore`` (SQLite + FTS5 + FAISS in one directory) is the first implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from qa.models import Article, ArticleMeta, Chunk, DocumentInfo, TimeWindow
from qa.store.vectors import Ids, Vectors

DocumentOrder = Literal["added", "date", "title"]


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk with what answering needs: its text, sentences and article."""

    id: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    article: ArticleMeta
    sentence_vectors: Vectors | None = None  # one row per sentence, in the passage's context


class Snapshot(Protocol):
    """A consistent view for one question: keyword and vector search over one committed version."""

    def vector_count(self) -> int:
        """Number of stored chunk vectors."""
        ...

    def dense_search(
        self, query: Vectors, k: int, allowed: Ids | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) for one query row, among the ``allowed`` chunk ids when given."""
        ...

    def chunk_vectors(self, ids: Ids) -> Vectors:
        """The stored vectors of these chunk ids."""
        ...

    def keyword_search(
        self, terms: Sequence[str], k: int, window: TimeWindow | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over passages holding any of ``terms`` (words as written; the store analyses them as
        it analysed the text): ``(chunk id, score)`` best first, only from articles published inside
        ``window``."""
        ...

    def term_frequencies(self, stems: list[str]) -> tuple[int, dict[str, int]]:
        """Number of chunks and, per stemmed term, how many chunks hold it."""
        ...

    def chunk_records(self, ids: list[int]) -> dict[int, ChunkRecord]:
        """Stored chunks by id (ids no longer stored are absent)."""
        ...

    def has_dates(self) -> bool:
        """True when at least one stored article has a publication date."""
        ...

    def newest_day(self) -> date | None:
        """The publication day of the newest dated article (None when no article has a date)."""
        ...

    def chunk_ids_in(self, window: TimeWindow) -> Ids:
        """The ids of every chunk from an article published inside the window."""
        ...

    def chunk_ids_of(self, article_ids: Sequence[str]) -> Ids:
        """The ids of every chunk of these articles."""
        ...

    def originals(self, ids: Sequence[str]) -> dict[str, str]:
        """Article id → the id of its story's original."""
        ...

    def copies(self, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
        """Every copy of each story, by the original's id."""
        ...


class Writer(Protocol):
    """Changes inside one write, visible to snapshots all at once when it ends."""

    def add_article(
        self,
        article: Article,
        chunks: list[Chunk],
        vectors: Vectors,
        file: str | None,
        sentence_vectors: Sequence[Vectors | None] | None = None,
    ) -> None:
        """Insert (or replace) an article with its chunks, their vectors and their sentences' vectors."""
        ...

    def remove_article(self, article_id: str) -> bool:
        """Remove an article with its chunks, and the hash recorded for its file (indexing the file
        again then reads it); False if it was not stored."""
        ...

    def articles_of_file(self, path: str) -> list[str]:
        """Ids of the articles loaded from a file."""
        ...

    def set_file(self, path: str, sha256: str) -> None:
        """Record a file's content hash."""
        ...

    def forget_file(self, path: str) -> list[str]:
        """Remove a file's record and its articles; returns the removed article ids."""
        ...


class Store(Protocol):
    """An archive's index: snapshots to read, a writer to change it, listings and file hashes."""

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """Pin a consistent view for one question."""
        ...

    def writer(self) -> AbstractContextManager[Writer]:
        """Exclusive write access; the changes become visible atomically when the block ends."""
        ...

    def is_empty(self) -> bool:
        """True before anything was stored."""
        ...

    def stats(self) -> dict[str, int]:
        """Numbers of articles and chunks."""
        ...

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of stored articles and how many match in all."""
        ...

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article's info and full text, or None."""
        ...

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file, named by its source or its full path."""
        ...

    def file_hash(self, path: str) -> str | None:
        """The content hash recorded for a file, or None if never indexed."""
        ...

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder (recursively)."""
        ...

    def close(self) -> None:
        """Release the store's connections (when no question or write is in flight)."""
        ...
