"""The read side: a snapshot pins one committed version of the database and its vectors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models import Article, ArticleMeta, Chunk, TimeWindow, public_source
from qa.store import signatures
from qa.store.packing import unpack_vectors
from qa.store.protocol import ChunkRecord
from qa.store.segments import SegmentSet
from qa.store.vectors import Ids, Vectors


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as stored: its chunks, their vectors and each chunk's sentence vectors."""

    article: Article
    chunks: list[Chunk]
    vectors: Vectors
    sentence_vectors: list[Vectors | None]


class LocalSnapshot:
    """A consistent view for one query: SQLite pinned at ``version`` and that version's vectors."""

    __slots__ = ("_conn", "vectors", "version")

    def __init__(self, version: int, vectors: SegmentSet, conn: sqlite3.Connection) -> None:
        self.version = version
        self.vectors = vectors
        self._conn = conn

    # -- vectors ---------------------------------------------------------------------------------
    def vector_count(self) -> int:
        """Number of stored chunk vectors."""
        return len(self.vectors)

    def dense_search(
        self, query: Vectors, k: int, allowed: Ids | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) for one query row, among the ``allowed`` chunk ids when given."""
        if allowed is None:
            return self.vectors.search(query, k)
        return self.vectors.search_among(query, k, allowed)

    def chunk_vectors(self, ids: Ids) -> Vectors:
        """The stored vectors of these chunk ids."""
        return self.vectors.reconstruct(ids)

    # -- keywords --------------------------------------------------------------------------------
    def keyword_search(
        self, terms: Sequence[str], k: int, window: TimeWindow | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and title for any of ``terms``: ``(chunk id, score)`` best first
        (score > 0), only from articles published inside ``window`` when one is given."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)  # quoted: never syntax
        where, params = _published_in(window) if window is not None else ("1", [])
        joined = "JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id" if window else ""
        rows = self._conn.execute(
            f"SELECT f.rowid, -bm25(chunks_fts, 0.5, 1.0) AS s FROM chunks_fts f {joined} "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s DESC LIMIT ?",
            (match, *params, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def keeps_term_counts(self) -> bool:
        """True when writers have kept the per-term chunk counts (an older index gets them at its
        next write)."""
        return self._conn.execute("SELECT 1 FROM meta WHERE key = 'chunks'").fetchone() is not None

    def term_frequencies(self, stems: list[str]) -> tuple[int, dict[str, int]]:
        """Number of chunks and, per Porter-stemmed term, how many chunks hold it.

        Writers keep both in the ``terms`` table and the ``chunks`` meta key (a key lookup each);
        an index from before they did is counted through FTS5, which costs time in proportion to
        the index, until its next write fills the table."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'chunks'").fetchone()
        if row is None:
            total = int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
            query = "SELECT term, doc FROM chunks_vocab WHERE term IN ({})"
        else:
            total = int(row[0])
            query = "SELECT term, chunks FROM terms WHERE term IN ({})"
        if not stems:
            return total, {}
        rows = self._conn.execute(query.format(",".join("?" * len(stems))), stems)
        return total, {str(t): int(d) for t, d in rows}

    # -- chunks and articles ---------------------------------------------------------------------
    def chunk_records(self, ids: list[int]) -> dict[int, ChunkRecord]:
        """Stored chunks by id (ids no longer stored are absent)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn.execute(
            f"SELECT c.id, f.body, c.sentences, a.id, a.title, a.published, a.source, a.url, "
            f"c.sentence_vectors, a.file, a.place "
            f"FROM chunks c JOIN chunks_fts f ON f.rowid = c.id JOIN articles a ON a.id = c.article_id "
            f"WHERE c.id IN ({marks})",
            ids,
        ).fetchall()
        return {int(r[0]): _chunk_record(r) for r in rows}

    def stored_articles(self) -> Iterator[StoredArticle]:
        """Every article (by id) with its chunks (in order), their vectors and sentence vectors."""
        articles = self._conn.execute(
            "SELECT id, title, published, source, url, text, place FROM articles ORDER BY id"
        ).fetchall()
        rows = self._conn.execute(
            'SELECT c.article_id, c.id, c.ordinal, c.start, c."end", c.sentences, f.body, c.sentence_vectors '
            "FROM chunks c JOIN chunks_fts f ON f.rowid = c.id ORDER BY c.article_id, c.ordinal"
        ).fetchall()
        by_article: dict[str, list[tuple[int, Chunk, Vectors | None]]] = {}
        for article_id, chunk_id, ordinal, start, end, sentences, body, blob in rows:
            spans = tuple((int(s[0]), int(s[1])) for s in json.loads(sentences))
            chunk = Chunk(article_id, ordinal, start, end, body, spans)
            by_article.setdefault(article_id, []).append((chunk_id, chunk, unpack_vectors(blob, len(spans))))
        for article_id, title, published, source, url, text, place in articles:
            stored = by_article.get(article_id, [])
            ids = np.array([i for i, _, _ in stored], dtype=np.int64)
            yield StoredArticle(
                Article(article_id, title, text, source, published, url, place),
                [c for _, c, _ in stored],
                self.vectors.reconstruct(ids),
                [v for _, _, v in stored],
            )

    # -- time ------------------------------------------------------------------------------------
    def has_dates(self) -> bool:
        """True when at least one indexed article has a publication date."""
        row = self._conn.execute("SELECT 1 FROM articles WHERE published IS NOT NULL LIMIT 1").fetchone()
        return row is not None

    def newest_day(self) -> date | None:
        """The publication day of the newest dated article (None when no article has a date)."""
        newest = self._conn.execute("SELECT max(published) FROM articles").fetchone()[0]
        try:
            return date.fromisoformat(str(newest)[:10]) if newest else None
        except ValueError:
            return None

    def chunk_ids_in(self, window: TimeWindow) -> Ids:
        """The ids of every passage from an article published inside the window."""
        where, params = _published_in(window)
        rows = self._conn.execute(
            f"SELECT c.id FROM articles a JOIN chunks c ON c.article_id = a.id WHERE {where}", params
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def chunk_ids_of(self, article_ids: Sequence[str]) -> Ids:
        """The ids of every passage of these articles."""
        unique = list(dict.fromkeys(article_ids))
        found: list[int] = []
        for at in range(0, len(unique), 500):
            batch = unique[at : at + 500]
            marks = ",".join("?" * len(batch))
            rows = self._conn.execute(f"SELECT id FROM chunks WHERE article_id IN ({marks})", batch)
            found.extend(int(r[0]) for r in rows)
        return np.array(sorted(found), dtype=np.int64)

    # -- duplicate stories -----------------------------------------------------------------------
    def originals(self, ids: Sequence[str]) -> dict[str, str]:
        """Article id → the id of its story's original (itself when it is one or has no signature)."""
        return signatures.originals(self._conn, ids)

    def copies(self, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
        """Every copy of each story (original first, then in index order), by the original's id."""
        return signatures.copies(self._conn, roots)


def _published_in(window: TimeWindow, column: str = "a.published") -> tuple[str, list[str]]:
    """A SQL condition on an ISO date column holding ``window.contains`` (NULL never matches), and
    its parameters."""
    clauses, params = [f"{column} IS NOT NULL"], []
    if window.since is not None:
        clauses.append(f"{column} >= ?")
        params.append(window.since.isoformat())
    if window.until is not None:
        clauses.append(f"{column} < ?")
        params.append(window.until.isoformat())
    return " AND ".join(clauses), params


def _chunk_record(row: tuple[Any, ...]) -> ChunkRecord:
    """A chunk row of ``chunk_records``' query: its sentence spans parsed once, for both fields."""
    sentences = tuple((int(s[0]), int(s[1])) for s in json.loads(row[2]))
    return ChunkRecord(
        id=int(row[0]),
        text=row[1],
        sentences=sentences,
        article=ArticleMeta(row[3], row[4], row[5], public_source(row[6]), row[7], row[9], row[10]),
        sentence_vectors=unpack_vectors(row[8], len(sentences)),
    )
