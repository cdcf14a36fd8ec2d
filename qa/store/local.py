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

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import IndexBusyError, IndexCorruptError
from qa.models import DocumentInfo
from qa.store import duplicates, listing, schema
from qa.store.protocol import DocumentOrder
from qa.store.snapshot import LocalSnapshot
from qa.store.vectors import DEFAULT_THRESHOLD, IndexType, VectorIndex
from qa.store.writer import LocalWriter

logger = logging.getLogger(__name__)


class LocalStore:
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
        self._db_path = index_dir / schema.DATABASE
        self._local = threading.local()
        self._swap = threading.Lock()
        self._write = threading.Lock()
        self._file_lock = FileLock(str(index_dir / "write.lock"), thread_local=False)
        schema.initialise(self._conn(), index_dir, model_name, dimension)
        self._vectors = self._new_vectors()
        self._vectors_version = -1
        self._load_vectors(schema.committed_version(self._conn()))

    exists = staticmethod(schema.exists)
    recorded_model = staticmethod(schema.recorded_model)

    def _new_vectors(self) -> VectorIndex:
        return VectorIndex(self.dimension, index_type=self.index_type, threshold=self.index_threshold)

    # -- connections and versions -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = schema.connect(self._db_path)
            self._local.conn = conn
        return conn

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
    def snapshot(self) -> Iterator[LocalSnapshot]:
        """Pin a consistent view for one query (reloads vectors another process committed)."""
        conn = self._conn()
        for attempt in range(5):
            with self._swap:
                conn.execute("BEGIN")
                version = schema.committed_version(conn)  # pins the read snapshot
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
                yield LocalSnapshot(version, vectors, conn)
            finally:
                conn.execute("ROLLBACK")
            return

    # -- listing ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Numbers of articles and chunks."""
        return listing.stats(self._conn())

    def is_empty(self) -> bool:
        """True before anything was indexed."""
        return listing.is_empty(self._conn())

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles (``search``: in title or source) and how many match in all."""
        return listing.documents(self._conn(), offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article's info and full text, or None."""
        return listing.document(self._conn(), doc_id)

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file, named by its source or its full path."""
        return listing.article_ids_from(self._conn(), source)

    def file_hash(self, path: str) -> str | None:
        """The content hash recorded for a file, or None if never indexed."""
        return listing.file_hash(self._conn(), path)

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder (recursively)."""
        return listing.files_under(self._conn(), folder)

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[LocalWriter]:
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
                    version = schema.committed_version(conn)
                    with self._swap:
                        self._load_vectors(version)
                    signed = duplicates.backfill(conn)
                    writer = LocalWriter(conn, self._vectors.clone())
                    # An older index's new signatures are kept even if nothing else changes.
                    writer.changed = signed
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

    def _commit(self, conn: sqlite3.Connection, writer: LocalWriter, version: int) -> None:
        new_version = version + 1
        writer.vectors.save(self._vectors_path(new_version))
        schema.set_version(conn, new_version)
        with self._swap:
            conn.execute("COMMIT")
            self._vectors, self._vectors_version = writer.vectors, new_version
        self._remove_stale_files()

    def _remove_stale_files(self) -> None:
        """Delete temporary files and vectors older than the previous version (kept for readers)."""
        current = schema.committed_version(self._conn())
        for path in self.index_dir.glob("vectors-*"):
            stem = path.name.removeprefix("vectors-").removesuffix(".faiss")
            if path.name.endswith(".tmp") or not stem.isdigit() or not current - 1 <= int(stem) <= current:
                path.unlink(missing_ok=True)
