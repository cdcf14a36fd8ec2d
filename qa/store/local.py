"""The index on disk: SQLite (metadata, chunks, FTS5 keyword index) plus FAISS segment files.

Layout of the index directory::

    meta.sqlite                 articles, files, chunks, FTS5 table, the committed ``version``,
                                and which segment files and tombstones make up each version
    vectors-<N>.faiss           a base segment, written by version N (ids are chunk ids)
    vectors-<N>.delta.faiss     a delta segment: the vectors version N added
    write.lock                  held by the one process writing

A write saves only what it adds, as a new delta file (see ``segments``), then commits the SQLite
transaction that lists it, records removed ids as tombstones and sets the version to N+1: a crash
at any moment leaves version N whole (SQLite's WAL is atomic, segment files never change, and a
file is only removed once neither the current nor the previous version lists it).  When
``SegmentSet.merge_due`` says so, a background thread then merges segments as a commit of its own,
under the same locks: the write is durable before the merge starts, a crash during it leaves the
previous version, the next write waits for it, and ``close()`` or the process's end lets it finish.
A bulk write (its change alone passes ``MERGE_RATIO`` of the base) saves a new base directly. Readers
pin a SQLite snapshot and that version's segments: a query never sees a half-written index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError, QAError
from qa.models import DocumentInfo
from qa.store import listing, manifest, schema, signatures, sizing
from qa.store.concurrency import BackgroundRun, ConnectionPool, WriteLock
from qa.store.protocol import DocumentOrder
from qa.store.segments import Merge, Segment, SegmentKind, SegmentSet, SegmentWrite, segment_file
from qa.store.snapshot import LocalSnapshot
from qa.store.vectors import VectorIndex
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
        index_type: sizing.IndexType = "auto",
        index_threshold: int = sizing.DEFAULT_THRESHOLD,
    ) -> None:
        self.index_type: sizing.IndexType = index_type
        self.index_threshold = index_threshold
        self.index_dir = index_dir
        self.dimension = dimension
        self.model_name = model_name
        index_dir.mkdir(parents=True, exist_ok=True)
        self._connections = ConnectionPool(index_dir / schema.DATABASE)
        self._swap = threading.Lock()
        self._write_lock = WriteLock(index_dir, lock_timeout)
        self._merger = BackgroundRun(self._merge_when_due, "qa-segment-merge")
        with self._connections.connection() as conn:
            schema.initialise(conn, index_dir, model_name, dimension)
        # The vectors are read by the first snapshot or write: listing articles never loads them.
        self._vectors = SegmentSet.empty(dimension)
        self._vectors_version = -1

    exists = staticmethod(schema.exists)
    recorded_model = staticmethod(schema.recorded_model)

    # -- connections and versions -------------------------------------------------------------
    def close(self) -> None:
        """Let a background merge finish, then close every thread's SQLite connection; a later call
        opens new ones."""
        self.wait_for_merge()
        self._connections.close_all()

    def _load_vectors(self, conn: sqlite3.Connection, version: int) -> None:
        """Make ``version``'s segments current (inside a transaction that pinned ``version``),
        reading only the files not loaded yet."""
        if version == self._vectors_version:
            return
        loaded = {(s.seq, s.kind): s for s in self._vectors.segments}
        segments = [
            loaded.get((seq, kind)) or Segment(seq, kind, self._read_segment(seq, kind))
            for seq, kind in manifest.listed(conn, version)
        ]
        self._vectors = SegmentSet(self.dimension, segments, manifest.tombstones(conn, version))
        self._vectors_version = version

    def _read_segment(self, seq: int, kind: SegmentKind) -> VectorIndex:
        path = self.index_dir / segment_file(seq, kind)
        index_type: sizing.IndexType = self.index_type if kind == "base" else "flat"
        try:
            vectors = VectorIndex.load(path, index_type, self.index_threshold)
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read {path}: {exc}") from exc
        if vectors.dimension != self.dimension:
            raise IndexCorruptError(f"{path} has dimension {vectors.dimension}, expected {self.dimension}")
        return vectors

    @contextmanager
    def snapshot(self) -> Iterator[LocalSnapshot]:
        """Pin a consistent view for one query (loads the segments another process committed)."""
        with self._connections.connection() as conn:
            for attempt in range(5):
                with self._swap:
                    conn.execute("BEGIN")
                    version = schema.committed_version(conn)  # pins the read snapshot
                    try:
                        self._load_vectors(conn, version)
                    except IndexCorruptError:
                        conn.execute("ROLLBACK")
                        if attempt == 4 or schema.committed_version(conn) == version:
                            raise
                        time.sleep(0.05)  # a newer commit removed a file of that version: read again
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
        return self._connections.read(listing.stats)

    def is_empty(self) -> bool:
        """True before anything was indexed."""
        return self._connections.read(listing.is_empty)

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles (``search``: in title or source) and how many match in all."""
        return self._connections.read(listing.documents, offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article's info and full text, or None."""
        return self._connections.read(listing.document, doc_id)

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file, named by its source or its full path."""
        return self._connections.read(listing.article_ids_from, source)

    def file_hash(self, path: str) -> str | None:
        """The content hash recorded for a file, or None if never indexed."""
        return self._connections.read(listing.file_hash, path)

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder (recursively)."""
        return self._connections.read(listing.files_under, folder)

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[sqlite3.Connection]:
        """This thread and this process alone write (``IndexBusyError`` after ``lock_timeout``)."""
        with self._write_lock.held(), self._connections.connection(writing=True) as conn:
            self._remove_stale_files(conn)
            yield conn

    @contextmanager
    def writer(self) -> Iterator[LocalWriter]:
        """Exclusive write access; the changes become visible atomically when the block ends (then
        segments are merged if due, as a commit of its own)."""
        with self._exclusive() as conn:
            with self._transaction(conn) as version:
                signed = signatures.backfill(conn)
                writer = LocalWriter(conn, SegmentWrite(self._vectors))
                # An older index's new signatures are kept even if nothing else changes.
                writer.changed = signed
                yield writer
                writer.save_term_counts()
                if writer.changed:
                    self._commit(conn, writer.vectors, version)
                else:
                    conn.execute("ROLLBACK")
            if writer.changed and self._vectors.merge_due() is not None:
                self._merger.start()  # in a thread of its own: it waits for this write's locks

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[int]:
        """A write transaction on the committed version (yielded) with its vectors loaded; the block
        commits or rolls back, and any error rolls back."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema.committed_version(conn)
            with self._swap:
                self._load_vectors(conn, version)
            yield version
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def compact(self) -> None:
        """Fold every segment and tombstone into one new base file now."""
        with self._exclusive() as conn:
            self._merge(conn, "base")

    def _commit(self, conn: sqlite3.Connection, write: SegmentWrite, version: int) -> None:
        """Write this version's new file (a delta, or a base for a bulk write), then commit."""
        new_version = version + 1
        manifest.adopt(conn, version)
        committed = write.committed
        if write.folds_at_commit():
            folded = committed.folded(write, self.index_type, self.index_threshold)
            vectors = self._save_base(conn, folded, new_version)
        else:
            delta = self._save_delta(write.added, new_version) if len(write.added) else None
            removed = write.removed_ids()
            manifest.add_delta(conn, new_version, delta is not None, removed)
            segments = [*committed.segments, delta] if delta is not None else committed.segments
            vectors = SegmentSet(self.dimension, segments, np.union1d(committed.tombstones, removed))
        self._publish(conn, vectors, new_version)

    def _save_delta(self, index: VectorIndex, version: int) -> Segment:
        """Write ``index`` as this version's delta file (before the commit that lists it)."""
        delta = Segment(version, "delta", index)
        index.save(self.index_dir / delta.file)
        return delta

    def _save_base(self, conn: sqlite3.Connection, index: VectorIndex, version: int) -> SegmentSet:
        base = Segment(version, "base", index)
        index.save(self.index_dir / base.file)  # retrains first if the size calls for it
        manifest.replace_all(conn, version)
        return SegmentSet(self.dimension, [base], np.zeros(0, dtype=np.int64))

    def _publish(self, conn: sqlite3.Connection, vectors: SegmentSet, version: int) -> None:
        """Commit ``version`` (its files are written) and make ``vectors`` this store's current set."""
        manifest.forget_dropped(conn, version)
        manifest.mark(conn, version)
        schema.set_version(conn, version)
        with self._swap:
            conn.execute("COMMIT")
            self._vectors, self._vectors_version = vectors, version
        self._remove_stale_files(conn)

    def wait_for_merge(self) -> None:
        """Return once no background merge is running."""
        self._merger.wait()

    def _merge_when_due(self) -> None:
        """Under the write locks, fold segments if ``SegmentSet.merge_due`` still says so (another
        process may have merged meanwhile). The writes are already visible and durable, so a failure
        here loses nothing: it is logged and the next write tries again."""
        try:
            with self._exclusive() as conn:
                self._merge(conn, None)
        except (OSError, QAError):
            logger.warning("merging the vector segments failed; the next write tries again", exc_info=True)

    def _merge(self, conn: sqlite3.Connection, what: Merge | None) -> None:
        """Fold every segment into a new base, or the deltas into one delta, as a commit of its own;
        ``None``: whichever ``merge_due`` asks for, if any."""
        started = time.perf_counter()
        with self._transaction(conn) as version:
            current, new_version = self._vectors, version + 1
            what = what or current.merge_due()
            if what is None:
                conn.execute("ROLLBACK")
                return
            manifest.adopt(conn, version)
            if what == "base":
                vectors = self._save_base(
                    conn, current.folded(None, self.index_type, self.index_threshold), new_version
                )
            else:
                index, forgotten = current.folded_deltas()
                delta = self._save_delta(index, new_version)
                manifest.replace_deltas(conn, new_version, forgotten)
                segments = [current.base, delta] if current.base is not None else [delta]
                vectors = SegmentSet(self.dimension, segments, np.setdiff1d(current.tombstones, forgotten))
            self._publish(conn, vectors, new_version)
        logger.info(
            "vector segments merged (%s): %d vectors, %.1f s",
            what,
            len(vectors),
            time.perf_counter() - started,
        )

    def _remove_stale_files(self, conn: sqlite3.Connection) -> None:
        """Delete vectors files that neither the current nor the previous version lists (kept for
        readers): temporaries and files of writes that died before their commit."""
        keep = manifest.kept_files(conn, schema.committed_version(conn))
        for path in self.index_dir.glob("vectors-*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
