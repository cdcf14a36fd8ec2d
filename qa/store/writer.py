"""The write side: articles in and out of one write transaction, their vectors alongside."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from qa.models import Article, Chunk
from qa.store import signatures
from qa.store.packing import pack_vectors
from qa.store.segments import SegmentWrite
from qa.store.vectors import Vectors
from qa.text import stem_terms


class LocalWriter:
    """Changes inside one write transaction: articles in and out, vectors alongside."""

    def __init__(self, conn: sqlite3.Connection, vectors: SegmentWrite) -> None:
        self._conn = conn
        self.vectors = vectors
        self.changed = False
        self._terms: Counter[str] = Counter()  # change in chunks per term
        self._chunks = 0  # change in the number of chunks

    def _count_terms(self, chunks: Iterable[tuple[str, str]], sign: int) -> None:
        """Count (``sign`` +1) or discount (-1) the terms of ``(title, body)`` chunks."""
        for title, body in chunks:
            self._chunks += sign
            for stem in stem_terms(f"{title}\n{body}"):
                self._terms[stem] += sign

    def save_term_counts(self) -> None:
        """Apply this write's changes to the per-term chunk counts (or count them all afresh for an
        index written before the counts were kept)."""
        if not self.changed:
            return
        conn = self._conn
        if conn.execute("SELECT 1 FROM meta WHERE key = 'chunks'").fetchone() is None:
            self._terms.clear()
            self._chunks = 0
            self._count_terms(conn.execute("SELECT title, body FROM chunks_fts"), +1)
            conn.execute("DELETE FROM terms")
            conn.execute("INSERT INTO meta(key, value) VALUES ('chunks', '0')")
        changes = [(term, delta) for term, delta in self._terms.items() if delta]
        conn.executemany(
            "INSERT INTO terms(term, chunks) VALUES (?, ?) "
            "ON CONFLICT(term) DO UPDATE SET chunks = chunks + excluded.chunks",
            changes,
        )
        if any(delta < 0 for _, delta in changes):
            conn.execute("DELETE FROM terms WHERE chunks <= 0")
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'chunks'", (self._chunks,)
        )
        self._terms.clear()
        self._chunks = 0

    def remove_article(self, article_id: str) -> bool:
        """Remove an article, its chunks and vectors; False if it was not indexed. The hash recorded
        for its file goes too: the index no longer holds all that the file holds, so indexing the file
        again reads it (and brings the article back) instead of finding it unchanged."""
        conn = self._conn
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
        forget = "DELETE FROM files WHERE path IN (SELECT file FROM articles WHERE id = ?)"
        conn.execute(forget, (article_id,))
        deleted = conn.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        signatures.forget(conn, article_id)
        if ids:
            marks = ",".join("?" * len(ids))
            texts = conn.execute(f"SELECT title, body FROM chunks_fts WHERE rowid IN ({marks})", ids)
            self._count_terms(texts, -1)
            conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
            conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", ids)
            self.vectors.remove(np.array(ids, dtype=np.int64))
        self.changed = self.changed or bool(deleted)
        return bool(deleted)

    def add_article(
        self,
        article: Article,
        chunks: list[Chunk],
        vectors: Vectors,
        file: str | None,
        sentence_vectors: Sequence[Vectors | None] | None = None,
    ) -> None:
        """Insert (or replace) an article with its chunks, their vectors and their sentences' vectors."""
        self.remove_article(article.id)
        conn = self._conn
        conn.execute(
            "INSERT INTO articles(id, title, published, source, url, text, file, added, place) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.published,
                article.source,
                article.url,
                article.text,
                file,
                time.time(),
                article.place,
            ),
        )
        ids: list[int] = []
        for number, chunk in enumerate(chunks):
            pooled = sentence_vectors[number] if sentence_vectors is not None else None
            cursor = conn.execute(
                'INSERT INTO chunks(article_id, ordinal, start, "end", sentences, sentence_vectors) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    json.dumps(chunk.sentences),
                    pack_vectors(pooled, len(chunk.sentences)),
                ),
            )
            chunk_id = int(cursor.lastrowid or 0)
            ids.append(chunk_id)
            conn.execute(
                "INSERT INTO chunks_fts(rowid, title, body) VALUES (?, ?, ?)",
                (chunk_id, article.title, chunk.text),
            )
        self._count_terms(((article.title, chunk.text) for chunk in chunks), +1)
        signatures.record(conn, article.id, article.text)
        self.vectors.add(np.array(ids, dtype=np.int64), vectors)
        self.changed = True

    def articles_of_file(self, path: str) -> list[str]:
        """Ids of the articles loaded from a file."""
        return [str(r[0]) for r in self._conn.execute("SELECT id FROM articles WHERE file = ?", (path,))]

    def set_file(self, path: str, sha256: str) -> None:
        """Record a file's content hash."""
        self._conn.execute("INSERT OR REPLACE INTO files(path, sha256) VALUES (?, ?)", (path, sha256))
        self.changed = True

    def forget_file(self, path: str) -> list[str]:
        """Remove a file's record and its articles; returns the removed article ids."""
        removed = [a for a in self.articles_of_file(path) if self.remove_article(a)]
        self._conn.execute("DELETE FROM files WHERE path = ?", (path,))
        self.changed = True
        return removed
