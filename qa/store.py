"""The index on disk: SQLite (metadata, chunks, FTS5 keyword index) plus a versioned FAISS file.

Layout of the index directory::

    meta.sqlite          articles, files, chunks, FTS5 table, and the committed ``version``
    vectors-<N>.faiss    the vectors of committed version N (ids are chunk ids)
    write.lock           held by the one process writing

A write builds ``vectors-<N+1>.faiss`` first, then commits the SQLite transaction that sets the
version to N+1: a crash at any moment leaves version N whole (SQLite's WAL is atomic and
``vectors-<N>.faiss`` is only removed after the commit).  Readers pin a SQLite snapshot and the
vectors of the same version, so a query never sees a half-written index.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from filelock import FileLock, Timeout

from qa import duplicates
from qa.errors import ConfigError, IndexBusyError, IndexCorruptError
from qa.models import Article, ArticleMeta, Chunk, DocumentInfo, public_source
from qa.text import stem_terms
from qa.timephrases import TimeWindow
from qa.vectors import DEFAULT_THRESHOLD, IndexType, VectorIndex, Vectors

logger = logging.getLogger(__name__)

DocumentOrder = Literal["added", "date", "title"]

MMAP_BYTES = 2**31  # SQLite reads the index database through a memory map up to this size

SCHEMA_VERSION = "1"
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, published TEXT, source TEXT NOT NULL, url TEXT,
    text TEXT NOT NULL, file TEXT, added REAL NOT NULL);
CREATE INDEX IF NOT EXISTS articles_file ON articles(file);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, sentences TEXT NOT NULL, sentence_vectors BLOB);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, body, tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, chunks INTEGER NOT NULL) WITHOUT ROWID;
"""
    + duplicates.SCHEMA
)


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk with what answering needs: its text, sentences and article."""

    id: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    article: ArticleMeta
    sentence_vectors: Vectors | None = None  # one row per sentence, in the passage's context


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent view for one query: SQLite pinned at ``version`` and that version's vectors."""

    version: int
    vectors: VectorIndex
    conn: sqlite3.Connection


class Store:
    """Opens (or creates) an index directory; reads are thread-safe, writes go through ``writer()``."""

    def __init__(
        self,
        index_dir: Path,
        dimension: int,
        model_name: str,
        lock_timeout: float = 30.0,
        index_type: IndexType = "auto",
        index_threshold: int = DEFAULT_THRESHOLD,
    ) -> None:
        self.index_type: IndexType = index_type
        self.index_threshold = index_threshold
        self.index_dir = index_dir
        self.dimension = dimension
        self.model_name = model_name
        self.lock_timeout = lock_timeout
        index_dir.mkdir(parents=True, exist_ok=True)
        self._db_path = index_dir / "meta.sqlite"
        self._local = threading.local()
        self._swap = threading.Lock()
        self._write = threading.Lock()
        self._file_lock = FileLock(str(index_dir / "write.lock"), thread_local=False)
        self._init_schema()
        self._vectors = self._new_vectors()
        self._vectors_version = -1
        self._load_vectors(self._committed_version(self._conn()))

    def _new_vectors(self) -> VectorIndex:
        return VectorIndex(self.dimension, index_type=self.index_type, threshold=self.index_threshold)

    @staticmethod
    def exists(index_dir: Path) -> bool:
        """True when ``index_dir`` holds an index (of any age or size)."""
        return (index_dir / "meta.sqlite").is_file()

    @staticmethod
    def recorded_model(index_dir: Path) -> tuple[str, int] | None:
        """``(model, dimension)`` an existing index was built with, or None when there is none yet."""
        path = index_dir / "meta.sqlite"
        if not path.exists():
            return None
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0) as conn:
                rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')"))
        except sqlite3.DatabaseError:
            return None
        if "model" not in rows or "dimension" not in rows:
            return None
        return str(rows["model"]), int(rows["dimension"])

    # -- connections and versions -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self._db_path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # Reads go through a memory map instead of copying each page into SQLite's cache:
                # BM25's posting lists and the chunk rows of a large archive are read several
                # times faster (SQLite caps the map at its compile-time limit, 2 GiB by default).
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            except sqlite3.DatabaseError as exc:
                raise IndexCorruptError(f"cannot open index database {self._db_path}: {exc}") from exc
            self._local.conn = conn
        return conn

    def _init_schema(self) -> None:
        conn = self._conn()
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"index database {self._db_path} is unreadable: {exc}") from exc
        columns = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
        if "sentence_vectors" not in columns:  # an index from 0.1: its sentences are encoded on demand
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("ALTER TABLE chunks ADD COLUMN sentence_vectors BLOB")
                conn.execute("COMMIT")
            except sqlite3.OperationalError:  # another process added it first
                conn.execute("ROLLBACK")
        row = conn.execute("SELECT value FROM meta WHERE key='model'").fetchone()
        if row is None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                [
                    ("schema", SCHEMA_VERSION),
                    ("model", self.model_name),
                    ("dimension", str(self.dimension)),
                    ("version", "0"),
                    ("chunks", "0"),  # kept by writers, with the terms table
                    ("minhash", "1"),  # every article has its duplicate-story signature
                ],
            )
            conn.execute("COMMIT")
        elif row[0] != self.model_name:
            raise ConfigError(
                f"the index in {self.index_dir} was built with model {row[0]!r}, not {self.model_name!r}: "
                "use the same QA_MODEL, or another QA_INDEX_DIR"
            )

    @staticmethod
    def _committed_version(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(row[0]) if row else 0

    def _vectors_path(self, version: int) -> Path:
        return self.index_dir / f"vectors-{version}.faiss"

    def _load_vectors(self, version: int) -> None:
        if version == self._vectors_version:
            return
        if version == 0:
            self._vectors, self._vectors_version = self._new_vectors(), 0
            return
        path = self._vectors_path(version)
        try:
            vectors = VectorIndex.load(path, self.index_type, self.index_threshold)
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read {path}: {exc}") from exc
        if vectors.dimension != self.dimension:
            raise IndexCorruptError(f"{path} has dimension {vectors.dimension}, expected {self.dimension}")
        self._vectors, self._vectors_version = vectors, version

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """Pin a consistent view for one query (reloads vectors another process committed)."""
        conn = self._conn()
        for attempt in range(5):
            with self._swap:
                conn.execute("BEGIN")
                version = self._committed_version(conn)  # pins the read snapshot
                try:
                    self._load_vectors(version)
                except IndexCorruptError:
                    conn.execute("ROLLBACK")
                    if attempt == 4 or self._vectors_path(version).exists():
                        raise
                    time.sleep(0.05)  # a newer commit removed that file: read again
                    continue
                vectors = self._vectors
            try:
                yield Snapshot(version, vectors, conn)
            finally:
                conn.execute("ROLLBACK")
            return

    # -- reading -------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Numbers of articles and chunks."""
        conn = self._conn()
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return {"articles": int(articles), "chunks": int(chunks)}

    def is_empty(self) -> bool:
        """True before anything was indexed."""
        return self._conn().execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None

    @staticmethod
    def keyword_search(
        snap: Snapshot, match: str, k: int, window: TimeWindow | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and title: ``(chunk id, score)`` best first (score > 0), only from
        articles published inside ``window`` when one is given."""
        if not match:
            return []
        where, params = window.sql("a.published") if window is not None else ("1", [])
        joined = "JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id" if window else ""
        rows = snap.conn.execute(
            f"SELECT f.rowid, -bm25(chunks_fts, 0.5, 1.0) AS s FROM chunks_fts f {joined} "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s DESC LIMIT ?",
            (match, *params, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    @staticmethod
    def term_frequencies(snap: Snapshot, stems: list[str]) -> tuple[int, dict[str, int]]:
        """Number of chunks and, per Porter-stemmed term, how many chunks hold it.

        Writers keep both in the ``terms`` table and the ``chunks`` meta key (a key lookup each);
        an index from before they did is counted through FTS5, which costs time in proportion to
        the index, until its next write fills the table."""
        row = snap.conn.execute("SELECT value FROM meta WHERE key = 'chunks'").fetchone()
        if row is None:
            total = int(snap.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
            query = "SELECT term, doc FROM chunks_vocab WHERE term IN ({})"
        else:
            total = int(row[0])
            query = "SELECT term, chunks FROM terms WHERE term IN ({})"
        if not stems:
            return total, {}
        rows = snap.conn.execute(query.format(",".join("?" * len(stems))), stems)
        return total, {str(t): int(d) for t, d in rows}

    @staticmethod
    def chunk_records(snap: Snapshot, ids: list[int]) -> dict[int, ChunkRecord]:
        """Stored chunks by id (ids no longer stored are absent)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = snap.conn.execute(
            f"SELECT c.id, f.body, c.sentences, a.id, a.title, a.published, a.source, a.url, "
            f"c.sentence_vectors, a.file "
            f"FROM chunks c JOIN chunks_fts f ON f.rowid = c.id JOIN articles a ON a.id = c.article_id "
            f"WHERE c.id IN ({marks})",
            ids,
        ).fetchall()
        return {
            int(r[0]): ChunkRecord(
                id=int(r[0]),
                text=r[1],
                sentences=tuple((int(s[0]), int(s[1])) for s in json.loads(r[2])),
                article=ArticleMeta(r[3], r[4], r[5], public_source(r[6]), r[7], r[9]),
                sentence_vectors=_unpack_vectors(r[8], len(json.loads(r[2]))),
            )
            for r in rows
        }

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles (``search``: in title or source) and how many match in all."""
        where, params = _document_filter(search)
        conn = self._conn()
        total = int(conn.execute(f"SELECT count(*) FROM articles a {where}", params).fetchone()[0])
        rows = conn.execute(
            "SELECT a.id, a.title, a.published, a.source, a.url, "
            "(SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.file, "
            "(SELECT duplicate_of FROM article_minhash m WHERE m.article_id = a.id) "
            f"FROM articles a {where} ORDER BY {_ORDER_BY[order]} LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, offset],
        ).fetchall()
        return [_document_info(r) for r in rows], total

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article's info and full text, or None."""
        row = (
            self._conn()
            .execute(
                "SELECT a.id, a.title, a.published, a.source, a.url, "
                "(SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.file, "
                "(SELECT duplicate_of FROM article_minhash m WHERE m.article_id = a.id), a.text "
                "FROM articles a WHERE a.id = ?",
                (doc_id,),
            )
            .fetchone()
        )
        return None if row is None else (_document_info(row[:8]), row[8])

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file, named by its source or its full path."""
        rows = (
            self._conn()
            .execute(
                "SELECT id FROM articles WHERE source = ? OR file = ? ORDER BY added, id", (source, source)
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def file_hash(self, path: str) -> str | None:
        """The content hash recorded for a file, or None if never indexed."""
        row = self._conn().execute("SELECT sha256 FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else str(row[0])

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder (recursively)."""
        prefix = folder.rstrip("/") + "/"
        rows = (
            self._conn()
            .execute("SELECT path FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix))
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """Exclusive write access; the changes become visible atomically when the block ends."""
        with self._write:
            try:
                self._file_lock.acquire(timeout=self.lock_timeout)
            except Timeout:
                raise IndexBusyError(
                    f"another process is writing the index in {self.index_dir} "
                    f"(waited {self.lock_timeout:.0f}s); try again when it has finished"
                ) from None
            try:
                self._remove_stale_files()
                conn = self._conn()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    version = self._committed_version(conn)
                    with self._swap:
                        self._load_vectors(version)
                    signed = duplicates.backfill(conn)
                    writer = Writer(conn, self._vectors.clone())
                    writer.changed = (
                        signed  # an older index's signatures are kept even if nothing else changes
                    )
                    yield writer
                    writer.save_term_counts()
                    if writer.changed:
                        self._commit(conn, writer, version)
                    else:
                        conn.execute("ROLLBACK")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                self._file_lock.release()

    def _commit(self, conn: sqlite3.Connection, writer: Writer, version: int) -> None:
        new_version = version + 1
        writer.vectors.save(self._vectors_path(new_version))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(new_version),))
        with self._swap:
            conn.execute("COMMIT")
            self._vectors, self._vectors_version = writer.vectors, new_version
        self._remove_stale_files()

    def _remove_stale_files(self) -> None:
        """Delete temporary files and vectors older than the previous version (kept for readers)."""
        current = self._committed_version(self._conn())
        for path in self.index_dir.glob("vectors-*"):
            stem = path.name.removeprefix("vectors-").removesuffix(".faiss")
            if path.name.endswith(".tmp") or not stem.isdigit() or not current - 1 <= int(stem) <= current:
                path.unlink(missing_ok=True)


def _pack_vectors(vectors: Vectors | None, rows: int) -> bytes | None:
    """Sentence vectors as float16 bytes (half the space; cosines move by about 1e-3)."""
    if vectors is None or vectors.shape[0] != rows:
        return None
    return np.ascontiguousarray(vectors, dtype=np.float16).tobytes()


def _unpack_vectors(blob: bytes | None, rows: int) -> Vectors | None:
    """The float32 rows stored by ``_pack_vectors``; None when absent or not ``rows`` rows."""
    if not blob or rows == 0 or len(blob) % (2 * rows):
        return None
    return np.frombuffer(blob, dtype=np.float16).reshape(rows, -1).astype(np.float32)


class Writer:
    """Changes inside one write transaction: articles in and out, vectors alongside."""

    def __init__(self, conn: sqlite3.Connection, vectors: VectorIndex) -> None:
        self.conn = conn
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
        if self.conn.execute("SELECT 1 FROM meta WHERE key = 'chunks'").fetchone() is None:
            self._terms.clear()
            self._chunks = 0
            self._count_terms(self.conn.execute("SELECT title, body FROM chunks_fts"), +1)
            self.conn.execute("DELETE FROM terms")
            self.conn.execute("INSERT INTO meta(key, value) VALUES ('chunks', '0')")
        changes = [(term, delta) for term, delta in self._terms.items() if delta]
        self.conn.executemany(
            "INSERT INTO terms(term, chunks) VALUES (?, ?) "
            "ON CONFLICT(term) DO UPDATE SET chunks = chunks + excluded.chunks",
            changes,
        )
        if any(delta < 0 for _, delta in changes):
            self.conn.execute("DELETE FROM terms WHERE chunks <= 0")
        self.conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'chunks'", (self._chunks,)
        )
        self._terms.clear()
        self._chunks = 0

    def remove_article(self, article_id: str) -> bool:
        """Remove an article, its chunks and vectors; False if it was not indexed."""
        ids = [
            int(r[0]) for r in self.conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
        ]
        deleted = self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        duplicates.forget(self.conn, article_id)
        if ids:
            marks = ",".join("?" * len(ids))
            texts = self.conn.execute(f"SELECT title, body FROM chunks_fts WHERE rowid IN ({marks})", ids)
            self._count_terms(texts, -1)
            self.conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
            self.conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", ids)
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
        self.conn.execute(
            "INSERT INTO articles(id, title, published, source, url, text, file, added) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.published,
                article.source,
                article.url,
                article.text,
                file,
                time.time(),
            ),
        )
        ids: list[int] = []
        for number, chunk in enumerate(chunks):
            pooled = sentence_vectors[number] if sentence_vectors is not None else None
            cursor = self.conn.execute(
                'INSERT INTO chunks(article_id, ordinal, start, "end", sentences, sentence_vectors) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    json.dumps(chunk.sentences),
                    _pack_vectors(pooled, len(chunk.sentences)),
                ),
            )
            chunk_id = int(cursor.lastrowid or 0)
            ids.append(chunk_id)
            self.conn.execute(
                "INSERT INTO chunks_fts(rowid, title, body) VALUES (?, ?, ?)",
                (chunk_id, article.title, chunk.text),
            )
        self._count_terms(((article.title, chunk.text) for chunk in chunks), +1)
        duplicates.record(self.conn, article.id, article.text)
        self.vectors.add(np.array(ids, dtype=np.int64), vectors)
        self.changed = True

    def articles_of_file(self, path: str) -> list[str]:
        """Ids of the articles loaded from a file."""
        return [str(r[0]) for r in self.conn.execute("SELECT id FROM articles WHERE file = ?", (path,))]

    def set_file(self, path: str, sha256: str) -> None:
        """Record a file's content hash."""
        self.conn.execute("INSERT OR REPLACE INTO files(path, sha256) VALUES (?, ?)", (path, sha256))
        self.changed = True

    def forget_file(self, path: str) -> list[str]:
        """Remove a file's record and its articles; returns the removed article ids."""
        removed = [a for a in self.articles_of_file(path) if self.remove_article(a)]
        self.conn.execute("DELETE FROM files WHERE path = ?", (path,))
        self.changed = True
        return removed


_ORDER_BY: dict[DocumentOrder, str] = {
    "added": "a.added, a.id",
    "date": "a.published IS NULL, a.published DESC, a.added, a.id",  # newest first, undated last
    "title": "a.title COLLATE NOCASE, a.id",
}


def _document_filter(search: str) -> tuple[str, list[str]]:
    """The WHERE clause that finds ``search`` in an article's title or source (case-insensitive)."""
    if not search.strip():
        return "", []
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return "WHERE a.title LIKE ? ESCAPE '\\' OR a.source LIKE ? ESCAPE '\\'", [pattern, pattern]


def _document_info(row: Sequence[Any]) -> DocumentInfo:
    """A DocumentInfo from ``id, title, published, source, url, chunks, file, duplicate_of``."""
    return DocumentInfo(
        row[0], row[1], row[2], public_source(row[3]), row[4], int(row[5]), duplicate_of=row[7], path=row[6]
    )
