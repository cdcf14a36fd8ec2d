"""Which vector segment files and tombstones make up each committed version (tables in meta.sqlite).

``segments`` (created by ``schema``) lists every file of the current and the previous version:
``seq`` (the version that wrote it, which names the file), ``kind`` (base or delta) and
``dropped`` (the version from which it is no longer part of the index; NULL while it is).
``tombstones`` holds the ids removed from the current segments.  Both change in the writer's
transaction, so a reader's pinned SQLite snapshot always sees the manifest of its own version.
The ``segments`` key in ``meta`` holds the version whose writer kept these tables: when it is
not the committed version (an index written before segments, or written since by an earlier
release), the index is one base file, ``vectors-<version>.faiss``, until its next write.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from qa.store.segments import SegmentKind, segment_file
from qa.store.vectors import Ids


def _segmented(conn: sqlite3.Connection, version: int) -> bool:
    """True when the writer of ``version`` kept the manifest."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'segments'").fetchone()
    return row is not None and int(row[0]) == version


def listed(conn: sqlite3.Connection, version: int) -> list[tuple[int, SegmentKind]]:
    """``(seq, kind)`` of the segments of ``version``, base first, then deltas oldest first."""
    if not _segmented(conn, version):
        return [(version, "base")] if version > 0 else []
    rows = conn.execute(
        "SELECT seq, kind FROM segments WHERE seq <= ? AND (dropped IS NULL OR dropped > ?) "
        "ORDER BY kind = 'delta', seq",
        (version, version),
    ).fetchall()
    return [(int(seq), "base" if kind == "base" else "delta") for seq, kind in rows]


def tombstones(conn: sqlite3.Connection, version: int) -> Ids:
    """The ids removed from the segments of ``version``."""
    if not _segmented(conn, version):
        return np.zeros(0, dtype=np.int64)
    rows = conn.execute("SELECT id FROM tombstones").fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def adopt(conn: sqlite3.Connection, version: int) -> None:
    """Start keeping the manifest again for an index that ``version``'s writer did not keep it for
    (in the writer's transaction): it is one base file."""
    if _segmented(conn, version):
        return
    conn.execute("UPDATE segments SET dropped = ? WHERE dropped IS NULL", (version,))
    conn.execute("DELETE FROM tombstones")
    if version > 0:
        conn.execute("INSERT OR REPLACE INTO segments(seq, kind) VALUES (?, 'base')", (version,))


def mark(conn: sqlite3.Connection, version: int) -> None:
    """Record that the manifest is kept for ``version`` (in the writer's transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('segments', ?)", (str(version),))


def add_delta(conn: sqlite3.Connection, version: int, written: bool, removed: Ids) -> None:
    """Version ``version`` adds a delta file (when ``written``) and tombstones for ``removed``."""
    if written:
        conn.execute("INSERT INTO segments(seq, kind) VALUES (?, 'delta')", (version,))
    conn.executemany("INSERT OR IGNORE INTO tombstones(id) VALUES (?)", ((int(i),) for i in removed))


def replace_all(conn: sqlite3.Connection, version: int) -> None:
    """Version ``version`` is one new base file: every other segment and every tombstone goes."""
    conn.execute("UPDATE segments SET dropped = ? WHERE dropped IS NULL", (version,))
    conn.execute("INSERT INTO segments(seq, kind) VALUES (?, 'base')", (version,))
    conn.execute("DELETE FROM tombstones")


def replace_deltas(conn: sqlite3.Connection, version: int, forgotten: Ids) -> None:
    """Version ``version`` folds the delta files into one; the ``forgotten`` tombstones go."""
    conn.execute("UPDATE segments SET dropped = ? WHERE dropped IS NULL AND kind = 'delta'", (version,))
    conn.execute("INSERT INTO segments(seq, kind) VALUES (?, 'delta')", (version,))
    conn.executemany("DELETE FROM tombstones WHERE id = ?", ((int(i),) for i in forgotten))


def forget_dropped(conn: sqlite3.Connection, version: int) -> None:
    """Forget segments that are in neither ``version`` nor the one before it."""
    conn.execute("DELETE FROM segments WHERE dropped IS NOT NULL AND dropped < ?", (version,))


def kept_files(conn: sqlite3.Connection, version: int) -> set[str]:
    """Names of the vectors files the committed ``version`` and the one before it need (readers
    may still be on the previous version); every other ``vectors-*`` file is garbage."""
    if not _segmented(conn, version):
        return {segment_file(v, "base") for v in (version - 1, version) if v > 0}
    rows = conn.execute("SELECT seq, kind FROM segments").fetchall()
    return {segment_file(int(seq), "base" if kind == "base" else "delta") for seq, kind in rows}
