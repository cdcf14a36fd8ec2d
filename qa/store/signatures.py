"""Duplicate stories in the index database: each article's MinHash signature, LSH bands and original."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

import numpy as np

from qa.ingest.copies import THRESHOLD, band_keys, signature, similarity
from qa.models import ArticleMeta

logger = logging.getLogger(__name__)


def record(conn: sqlite3.Connection, article_id: str, text: str) -> str | None:
    """Store an article's signature; returns the original it duplicates, if any."""
    sig = signature(text)
    keys = band_keys(sig)
    candidates: set[str] = set()
    for band, key in enumerate(keys):
        rows = conn.execute("SELECT article_id FROM article_bands WHERE band = ? AND key = ?", (band, key))
        candidates.update(str(r[0]) for r in rows)
    candidates.discard(article_id)
    best, best_score = None, THRESHOLD
    for other in sorted(candidates):
        row = conn.execute(
            "SELECT signature, coalesce(duplicate_of, article_id) FROM article_minhash WHERE article_id = ?",
            (other,),
        ).fetchone()
        score = similarity(sig, np.frombuffer(row[0], dtype=np.uint32))
        if score >= best_score:
            best, best_score = str(row[1]), score
    conn.execute(
        "INSERT OR REPLACE INTO article_minhash(article_id, signature, duplicate_of) VALUES (?, ?, ?)",
        (article_id, sig.tobytes(), best),
    )
    conn.executemany(
        "INSERT INTO article_bands(band, key, article_id) VALUES (?, ?, ?)",
        [(band, key, article_id) for band, key in enumerate(keys)],
    )
    if best is not None:
        logger.info("article %s duplicates %s (estimated Jaccard %.2f)", article_id, best, best_score)
    return best


def forget(conn: sqlite3.Connection, article_id: str) -> None:
    """Drop an article's signature; its oldest copy becomes the original of the others."""
    conn.execute("DELETE FROM article_minhash WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
    heir = conn.execute(
        "SELECT article_id FROM article_minhash WHERE duplicate_of = ? ORDER BY rowid LIMIT 1", (article_id,)
    ).fetchone()
    if heir is not None:
        conn.execute("UPDATE article_minhash SET duplicate_of = NULL WHERE article_id = ?", (heir[0],))
        conn.execute(
            "UPDATE article_minhash SET duplicate_of = ? WHERE duplicate_of = ?", (heir[0], article_id)
        )


def backfill(conn: sqlite3.Connection) -> bool:
    """Sign the articles of an index written before signatures were kept (once, oldest first);
    True when that changed the index."""
    if conn.execute("SELECT 1 FROM meta WHERE key = 'minhash'").fetchone() is not None:
        return False
    rows = conn.execute(
        "SELECT id, text FROM articles WHERE id NOT IN (SELECT article_id FROM article_minhash) "
        "ORDER BY added, id"
    ).fetchall()
    if rows:
        logger.info("finding duplicate stories among %d indexed articles", len(rows))
    for article_id, text in rows:
        record(conn, str(article_id), str(text))
    conn.execute("INSERT INTO meta(key, value) VALUES ('minhash', '1')")
    return True


def originals(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """Article id → the id of its story's original (itself when it is one or has no signature)."""
    unique = list(dict.fromkeys(ids))
    found = {i: i for i in unique}
    if unique:
        marks = ",".join("?" * len(unique))
        rows = conn.execute(
            f"SELECT article_id, duplicate_of FROM article_minhash "
            f"WHERE article_id IN ({marks}) AND duplicate_of IS NOT NULL",
            unique,
        )
        found.update({str(a): str(d) for a, d in rows})
    return found


def copies(conn: sqlite3.Connection, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
    """Every copy of each story (original first, then in index order), by the original's id."""
    unique = list(dict.fromkeys(roots))
    out: dict[str, list[ArticleMeta]] = {r: [] for r in unique}
    if not unique:
        return out
    marks = ",".join("?" * len(unique))
    rows = conn.execute(
        f"SELECT coalesce(m.duplicate_of, m.article_id), a.id, a.title, a.published, a.source, a.url, "
        f"a.place "
        f"FROM article_minhash m JOIN articles a ON a.id = m.article_id "
        f"WHERE m.article_id IN ({marks}) OR m.duplicate_of IN ({marks}) "
        f"ORDER BY m.duplicate_of IS NOT NULL, m.rowid",
        [*unique, *unique],
    )
    for root, article_id, title, published, source, url, place in rows:
        out[str(root)].append(ArticleMeta(article_id, title, published, source, url, place=place))
    return out
