"""Listing the index: pages of articles, one article, files and their content hashes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from qa.models import DocumentInfo, public_source
from qa.store.protocol import DocumentOrder

_ORDER_BY: dict[DocumentOrder, str] = {
    "added": "a.added, a.id",
    "date": "a.published IS NULL, a.published DESC, a.added, a.id",  # newest first, undated last
    "title": "a.title COLLATE NOCASE, a.id",
}
_INFO = (
    "SELECT a.id, a.title, a.published, a.source, a.url, "
    "(SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.file, "
    "(SELECT duplicate_of FROM article_minhash m WHERE m.article_id = a.id), a.place"
)


def stats(conn: sqlite3.Connection) -> dict[str, int]:
    """Numbers of articles and chunks."""
    articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    return {"articles": int(articles), "chunks": int(chunks)}


def is_empty(conn: sqlite3.Connection) -> bool:
    """True before anything was indexed."""
    return conn.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None


def documents(
    conn: sqlite3.Connection, offset: int, limit: int | None, search: str, order: DocumentOrder
) -> tuple[list[DocumentInfo], int]:
    """A page of indexed articles (``search``: in title or source) and how many match in all."""
    where, params = _document_filter(search)
    total = int(conn.execute(f"SELECT count(*) FROM articles a {where}", params).fetchone()[0])
    rows = conn.execute(
        f"{_INFO} FROM articles a {where} ORDER BY {_ORDER_BY[order]} LIMIT ? OFFSET ?",
        [*params, -1 if limit is None else limit, offset],
    ).fetchall()
    return [_document_info(r) for r in rows], total


def document(conn: sqlite3.Connection, doc_id: str) -> tuple[DocumentInfo, str] | None:
    """One article's info and full text, or None."""
    row = conn.execute(f"{_INFO}, a.text FROM articles a WHERE a.id = ?", (doc_id,)).fetchone()
    return None if row is None else (_document_info(row[:9]), row[9])


def article_ids_from(conn: sqlite3.Connection, source: str) -> list[str]:
    """Ids of the articles read from a file, named by its source or its full path."""
    rows = conn.execute(
        "SELECT id FROM articles WHERE source = ? OR file = ? ORDER BY added, id", (source, source)
    ).fetchall()
    return [str(r[0]) for r in rows]


def file_hash(conn: sqlite3.Connection, path: str) -> str | None:
    """The content hash recorded for a file, or None if never indexed."""
    row = conn.execute("SELECT sha256 FROM files WHERE path = ?", (path,)).fetchone()
    return None if row is None else str(row[0])


def files_under(conn: sqlite3.Connection, folder: str) -> list[str]:
    """Indexed files inside a folder (recursively)."""
    prefix = folder.rstrip("/") + "/"
    rows = conn.execute(
        "SELECT path FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
    ).fetchall()
    return [str(r[0]) for r in rows]


def _document_filter(search: str) -> tuple[str, list[str]]:
    """The WHERE clause that finds ``search`` in an article's title or source (case-insensitive)."""
    if not search.strip():
        return "", []
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return "WHERE a.title LIKE ? ESCAPE '\\' OR a.source LIKE ? ESCAPE '\\'", [pattern, pattern]


def _document_info(row: Sequence[Any]) -> DocumentInfo:
    """A DocumentInfo from ``id, title, published, source, url, chunks, file, duplicate_of, place``."""
    return DocumentInfo(
        row[0],
        row[1],
        row[2],
        public_source(row[3]),
        row[4],
        int(row[5]),
        duplicate_of=row[7],
        path=row[6],
        place=row[8],
    )
